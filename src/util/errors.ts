/**
 * An error in something the user gave us (a file, a flag, a config). Its message names the
 * file and the problem; the CLI prints the message alone, with no stack trace.
 */
export class UserError extends Error {
  constructor(message: string, readonly file?: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** A defect in a data file: "t10k-labels-idx1-ubyte: label 11 at index 42 is outside 0-9". */
export class DataError extends UserError {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`, file);
    this.name = 'DataError';
  }
}
