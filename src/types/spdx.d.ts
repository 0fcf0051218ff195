declare module 'spdx-expression-parse' {
  type Node =
    | { license: string; plus?: boolean; exception?: string }
    | { left: Node; conjunction: 'and' | 'or'; right: Node };
  function parse(expression: string): Node;
  export default parse;
}
declare module 'spdx-license-ids' {
  const ids: string[];
  export default ids;
}
