/**
 * The one error type tsrunc reports to its user. The message is the whole line the user
 * sees (no stack), so it must name what is wrong: the id, the file, the JSON path, the step.
 */
export class TsruncError extends Error {
  override name = 'TsruncError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A failed libc call, carrying the errno so callers can branch on it. */
export class SyscallError extends TsruncError {
  override name = 'SyscallError';
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly errnoName: string,
    context: string,
  ) {
    super(`${context}: ${call}: ${errnoName} (${describeErrno(errnoName)})`);
  }
}

const errnoText: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENOSYS: 'function not implemented',
  ELOOP: 'too many levels of symbolic links',
  ENODEV: 'no such device',
  EXDEV: 'invalid cross-device link',
  ENOEXEC: 'exec format error',
};

export function describeErrno(name: string): string {
  return errnoText[name] ?? 'system error';
}

/** Turns anything thrown into the single line shown to the user. */
export function errorLine(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
