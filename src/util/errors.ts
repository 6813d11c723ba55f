/**
 * An error in something the user gave us (a file, a flag, a config). Its message names the
 * file and the problem; the CLI prints the message alone, with no stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
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

/**
 * What the operating system can refuse for reasons outside the program: permissions, a full
 * disk, a missing or misplaced path, an address in use. Node reports them as errors with these
 * codes; they are the user's to act on, not bugs, so they get one line and no stack trace.
 */
const SYSTEM_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder, not a file',
  EEXIST: 'already exists',
  ENOTEMPTY: 'folder not empty',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EBUSY: 'busy',
  EXDEV: 'on another device',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'host name not found',
};

/** Node's argument errors that are really the user's values (e.g. a port outside 0-65535). */
const USER_VALUE_CODES = new Set(['ERR_SOCKET_BAD_PORT']);

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
}

/** Whether `err` is a Node system error the user can act on (see SYSTEM_PROBLEMS). */
function isSystemProblem(err: unknown): err is SystemError {
  return (
    err instanceof Error &&
    typeof (err as SystemError).code === 'string' &&
    Object.hasOwn(SYSTEM_PROBLEMS, (err as SystemError).code!)
  );
}

/** "permission denied (EACCES, open)". */
function systemProblem(err: SystemError): string {
  const code = err.code!;
  // mkdir's EEXIST: a file where a folder of the path should be.
  const problem =
    code === 'EEXIST' && err.syscall === 'mkdir'
      ? 'a file is in the way of a folder of the path'
      : SYSTEM_PROBLEMS[code];
  return `${problem} (${err.syscall ? `${code}, ${err.syscall}` : code})`;
}

/** Where a system error happened: its path, or its address and port. */
function systemProblemPlace(err: SystemError): string | undefined {
  if (err.path) return err.path;
  if (err.address !== undefined) return err.port !== undefined ? `${err.address}:${err.port}` : err.address;
  return undefined;
}

/**
 * The one line a user should read for an expected failure, or undefined for anything else
 * (a bug). Expected: UserError and its kinds, the system problems above
 * ("/runs/a/config.json: permission denied (EACCES, open)"), and Node's complaints about
 * values the user gave.
 */
export function describeExpectedFailure(err: unknown): string | undefined {
  if (err instanceof UserError) return err.message;
  if (isSystemProblem(err)) {
    const place = systemProblemPlace(err);
    return place ? `${place}: ${systemProblem(err)}` : systemProblem(err);
  }
  if (err instanceof Error && USER_VALUE_CODES.has((err as SystemError).code ?? '')) return err.message;
  return undefined;
}

/**
 * A system problem met while doing `action` to `path` ("write", "create the folder") as a
 * UserError naming both, so a full disk in the middle of a write reads
 * "cannot write runs/a/weights.bin: no space left on the device (ENOSPC, write)" rather than
 * naming a temporary file. Anything else comes back as it was.
 */
export function asUserError(err: unknown, action: string, path: string): unknown {
  if (!isSystemProblem(err)) return err;
  return new UserError(`cannot ${action} ${path}: ${systemProblem(err)}`, path);
}
