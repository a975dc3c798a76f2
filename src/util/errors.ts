/**
 * Errors a user caused (bad config, bad arguments, bad resources). The CLI
 * prints `message` as one line on stderr, without a stack trace, and exits
 * with `exitCode`. Anything else that reaches the top is a bug and gets a
 * stack trace with `-v`.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
    /** Further lines shown with -v, or when there are several problems. */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A capability another issue delivers; exits 2 with a fixed prefix the contract names. */
export class NotImplementedError extends UserError {
  constructor(what: string) {
    super(`not implemented yet: ${what}`, 2);
    this.name = 'NotImplementedError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
