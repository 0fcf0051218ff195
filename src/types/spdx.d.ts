declare module 'spdx-expression-parse' {
  export type SpdxLeaf = { license: string; plus?: boolean; exception?: string };
  export type SpdxNode = SpdxLeaf | { left: SpdxNode; conjunction: 'and' | 'or'; right: SpdxNode };
  function parse(expression: string): SpdxNode;
  export default parse;
}
declare module 'spdx-license-ids' {
  const ids: string[];
  export default ids;
}
