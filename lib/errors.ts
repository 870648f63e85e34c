/**
 * Errors a user can act on. The CLI prints `runstage: <message>` on one line and
 * exits with `exitCode`; anything else that escapes is a bug and keeps its stack.
 */
export class RunstageError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "RunstageError";
  }
}

/** Bad input from the user: exit code 2, like a usage error. */
export class UsageError extends RunstageError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
