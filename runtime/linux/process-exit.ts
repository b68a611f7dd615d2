/**
 * Waiting for a process to end through a pidfd, which the kernel makes readable when it exits,
 * instead of reading /proc/PID/stat in a loop. Kernels without pidfd_open (< 5.3) fall back to
 * polling /proc.
 */
import { SyscallError } from '../errors.js';
import * as libc from './libc.js';
import { isSameLiveProcess } from './proc-stat.js';
import { pollUntil } from './wait.js';

export type ProcessWatch =
  | { kind: 'gone' }
  | { kind: 'pidfd'; fd: number }
  /** No pidfd_open here: ask /proc. */
  | { kind: 'proc'; pid: number; startTime: number };

/**
 * A watch on `pid` as long as it is still the process that started at `startTime`; `gone` if
 * it has exited (a zombie counts as exited) or the pid now names another process.
 */
export function watchProcess(pid: number, startTime: number): ProcessWatch {
  let fd: number;
  try {
    fd = libc.pidfdOpen(pid, `watching pid ${pid}`);
  } catch (error) {
    if (error instanceof SyscallError && error.errnoName === 'ESRCH') return { kind: 'gone' };
    if (error instanceof SyscallError && error.errnoName === 'ENOSYS') {
      return isSameLiveProcess(pid, startTime) ? { kind: 'proc', pid, startTime } : { kind: 'gone' };
    }
    throw error;
  }
  // Checked after opening: from here on the pidfd stays bound to that process, even if the pid is reused.
  if (!isSameLiveProcess(pid, startTime)) {
    libc.close(fd);
    return { kind: 'gone' };
  }
  return { kind: 'pidfd', fd };
}

export function closeWatch(watch: ProcessWatch): void {
  if (watch.kind === 'pidfd') libc.close(watch.fd);
}

/** Whether the watched process has exited, without waiting. */
export function hasExited(watch: ProcessWatch): boolean {
  if (watch.kind === 'gone') return true;
  if (watch.kind === 'proc') return !isSameLiveProcess(watch.pid, watch.startTime);
  return libc.poll([{ fd: watch.fd, events: libc.POLLIN }], 0, 'polling a pidfd')[0] !== 0;
}

/** Blocks until the process exits or `timeoutMs` passes; returns whether it exited. */
export function waitForExit(pid: number, startTime: number, timeoutMs: number): boolean {
  const watch = watchProcess(pid, startTime);
  try {
    if (watch.kind === 'gone') return true;
    if (watch.kind === 'proc') return pollUntil(() => hasExited(watch), timeoutMs);
    return libc.poll([{ fd: watch.fd, events: libc.POLLIN }], timeoutMs, `waiting for pid ${pid} to exit`)[0] !== 0;
  } finally {
    closeWatch(watch);
  }
}

/**
 * Kills the process that started at `startTime` (never another that reuses its pid: through
 * its pidfd where there is one) and waits for it; returns whether it is gone.
 */
export function killAndWait(pid: number, startTime: number, timeoutMs: number): boolean {
  const SIGKILL = 9;
  const watch = watchProcess(pid, startTime);
  try {
    if (watch.kind === 'gone') return true;
    try {
      if (watch.kind === 'pidfd') libc.pidfdSendSignal(watch.fd, SIGKILL, `killing pid ${pid}`);
      else process.kill(pid, SIGKILL);
    } catch {
      // it exited between the watch and the kill
    }
    if (watch.kind === 'proc') return pollUntil(() => hasExited(watch), timeoutMs);
    return libc.poll([{ fd: watch.fd, events: libc.POLLIN }], timeoutMs, `waiting for pid ${pid} to exit`)[0] !== 0;
  } finally {
    closeWatch(watch);
  }
}
