/**
 * A child of tsrunc's that libuv did not make: the native stage (posix_spawn), and the
 * container's init or exec'd process, which the stage cloned as tsrunc's child (CLONE_PARENT).
 * Reaped here on SIGCHLD with waitpid(pid, WNOHANG), which leaves libuv's own children alone.
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import * as libc from './libc.js';

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);

/** Emits 'exit' (code, signal) once. */
export class WatchedProcess extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private exited = false;
  /** Keeps tsrunc alive while it waits for the process, as a ChildProcess does until unref(). */
  private readonly keepAlive: NodeJS.Timeout;
  private readonly onChildSignal = () => this.poll();

  constructor(readonly pid: number) {
    super();
    process.on('SIGCHLD', this.onChildSignal);
    this.keepAlive = setInterval(() => this.poll(), 1000);
    // An exit before the listener existed sent its SIGCHLD already.
    setImmediate(() => this.poll());
  }

  get hasExited(): boolean {
    return this.exited;
  }

  private poll(): void {
    if (this.exited) return;
    let status: ReturnType<typeof libc.reapIfExited>;
    try {
      status = libc.reapIfExited(this.pid, `waiting for pid ${this.pid}`);
    } catch {
      status = { code: null, signal: null }; // not our child any more: gone
    }
    if (!status) return;
    this.exited = true;
    this.stopWatching();
    this.exitCode = status.code;
    this.signalCode = status.signal === null ? null : signalNames.get(status.signal) ?? null;
    this.emit('exit', this.exitCode, this.signalCode);
  }

  private stopWatching(): void {
    process.off('SIGCHLD', this.onChildSignal);
    clearInterval(this.keepAlive);
  }

  /** Resolves with the status a shell would show: the exit code, or 128 + the signal. */
  status(): Promise<number> {
    return new Promise((resolve) => {
      const settle = () => resolve(this.signalCode ? 128 + (osConstants.signals[this.signalCode] ?? 0) : this.exitCode ?? 0);
      if (this.exited) settle();
      else this.once('exit', settle);
    });
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL and wait until it is reaped. */
  async killAndReap(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    this.kill('SIGKILL');
    await gone;
  }

  /** tsrunc may exit while it runs (create returns; the init is reparented). */
  unref(): void {
    this.keepAlive.unref();
  }

  /** Stops watching without reaping: the process is someone else's to wait for now. */
  release(): void {
    this.stopWatching();
  }
}
