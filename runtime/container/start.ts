/**
 * `tsrunc start`: open exec.fifo for reading, which releases the init blocked on opening it
 * for writing; read the byte it writes (proof that it passed the gate), then remove the fifo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import * as libc from '../linux/libc.js';
import { closeWatch, hasExited, waitForExit, watchProcess, type ProcessWatch } from '../linux/process-exit.js';
import { EXEC_FIFO, openContainer } from './state-store.js';
import { containerStatus } from './status.js';
import { hookState, runHooks, runHooksWarnOnly } from './hooks.js';
import type { TsruncState } from '../spec/state.js';
import { logWarning } from '../log.js';
import { step } from '../steps.js';

export function startContainer(root: string, id: string): void {
  const { lock, state } = openContainer(root, id);
  let started = false;
  try {
    step('start:locked');
    const status = containerStatus(state, lock.dir);
    if (status === 'stopped') throw new TsruncError(`cannot start a container that has stopped: ${id}`);
    if (status === 'running') throw new TsruncError(`cannot start an already running container: ${id}`);
    if (!state.config.process) {
      // runtime-spec: start MUST fail when process is not set. The init can never run
      // anything, so it goes too and the container reads as stopped.
      process.kill(state.pid, 'SIGKILL');
      waitForExit(state.pid, state.initStartTime, 10_000);
      throw new TsruncError(`cannot start container ${id}: config.json has no process`);
    }
    const fifoPath = path.join(lock.dir, EXEC_FIFO);
    // Non-blocking, so a dead init cannot leave `start` hanging forever: the wait below is on
    // the fifo and on the init's pidfd together.
    const fd = fs.openSync(fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    step('start:fifo-opened');
    // Gone at once: the gate opens only this once, whether or not this start lives to see it through.
    fs.rmSync(fifoPath, { force: true });
    const init = watchProcess(state.pid, state.initStartTime);
    try {
      if (readFifo(fd, init, 1) === '') {
        throw new TsruncError(`container ${id}: the init exited before it could start the process`);
      }
      // The init keeps exec.fifo open (close-on-exec) through the startContainer hooks: EOF
      // means execve succeeded; anything written before is why it did not.
      const failure = readFifo(fd, init, Infinity).trim();
      if (failure !== '') {
        waitForExit(state.pid, state.initStartTime, 10_000);
        throw new TsruncError(`cannot start container ${id}: ${failure}`);
      }
      started = true;
      step('start:started');
    } finally {
      closeWatch(init);
      fs.closeSync(fd);
    }
  } finally {
    lock.release();
  }
  // runtime.md Lifecycle step 9, after the lock so a hook may ask `tsrunc state`.
  if (started) runPoststart(state);
}

/**
 * A failed poststart hook: runtime-spec 1.3 says the runtime MUST generate an error and stop the
 * container; earlier versions, to log a warning and go on. The config's ociVersion decides.
 */
function runPoststart(state: TsruncState): void {
  const hooks = state.config.hooks?.poststart;
  const view = hookState(state, 'running');
  if (!specAtLeast(state.config.ociVersion, 1, 3)) {
    runHooksWarnOnly('poststart', hooks, view, logWarning);
    return;
  }
  try {
    runHooks('poststart', hooks, view);
  } catch (error) {
    try {
      process.kill(state.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    waitForExit(state.pid, state.initStartTime, 10_000);
    throw new TsruncError(`${(error as Error).message}; the container was stopped (runtime-spec 1.3: a failed poststart hook stops it)`);
  }
}

function specAtLeast(version: string, major: number, minor: number): boolean {
  const [theirMajor, theirMinor] = version.split('.').map((part) => parseInt(part, 10));
  return theirMajor! > major || (theirMajor === major && theirMinor! >= minor);
}

/**
 * Reads exec.fifo until `limit` bytes or EOF (the init's end of it closed: execve or exit),
 * sleeping in poll(2) on the fifo and the init's pidfd. A read of 0 bytes is EOF only once a
 * writer has been seen: before that it is what a fifo nobody has opened for writing reads as.
 */
function readFifo(fd: number, init: ProcessWatch, limit: number): string {
  const chunks: Buffer[] = [];
  let total = 0;
  let writerSeen = false;
  const buffer = Buffer.alloc(4096);
  for (;;) {
    let count = -1;
    try {
      count = fs.readSync(fd, buffer, 0, Math.min(buffer.length, limit - total), null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      writerSeen = true; // a writer holds it open and has written nothing yet
    }
    if (count > 0) {
      writerSeen = true;
      chunks.push(Buffer.from(buffer.subarray(0, count)));
      total += count;
      if (total >= limit) break;
      continue;
    }
    if (count === 0 && writerSeen) break;
    if (hasExited(init)) {
      // Its end closed as it exited: whatever it wrote is there to read now.
      const last = readAvailable(fd, buffer);
      if (last > 0) chunks.push(Buffer.from(buffer.subarray(0, last)));
      break;
    }
    if (waitForFifoOrExit(fd, init) & libc.POLLHUP) writerSeen = true; // a writer came and went
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readAvailable(fd: number, buffer: Buffer): number {
  try {
    return fs.readSync(fd, buffer, 0, buffer.length, null);
  } catch {
    return 0;
  }
}

/**
 * Sleeps until the fifo has data or its writer closed, or the init exits; returns the fifo's
 * poll events. A fifo that no writer has opened yet does not wake poll(2). Without a pidfd
 * (kernel < 5.3) the init is looked at every 100 ms.
 */
function waitForFifoOrExit(fd: number, init: ProcessWatch): number {
  const fds = [{ fd, events: libc.POLLIN }];
  if (init.kind === 'pidfd') fds.push({ fd: init.fd, events: libc.POLLIN });
  return libc.poll(fds, init.kind === 'pidfd' ? -1 : 100, 'waiting on exec.fifo')[0]!;
}
