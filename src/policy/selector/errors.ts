import { UserError } from '../../util/errors.js';

/**
 * A selector that does not parse. `column` is the 0-based offset (in UTF-16
 * code units, i.e. a JavaScript string index) of the offending token, or the
 * length of the text when the input ended too early. The message always names
 * what was expected and what was found:
 *
 *   selector "app == " at column 7: expected a quoted string, found end of input
 */
export class SelectorSyntaxError extends UserError {
  constructor(
    readonly selector: string,
    readonly column: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`selector ${JSON.stringify(selector)} at column ${column}: expected ${expected}, found ${found}`);
    this.name = 'SelectorSyntaxError';
  }
}
