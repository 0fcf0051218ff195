/** The exit code a command's action decided on; unset means it ran to the end without failing. */
let commandExitCode: number | undefined;

export function setCommandExitCode(code: number): void {
  commandExitCode = code;
}

export function getCommandExitCode(): number | undefined {
  return commandExitCode;
}
