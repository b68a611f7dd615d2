/**
 * `tsrunc start`: open exec.fifo for reading, which releases the init blocked on opening it
 * for writing; read the byte it writes (proof that it passed the gate), then remove the fifo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import { isSameLiveProcess } from '../linux/proc-stat.js';
import { pollUntil, sleepSync } from '../linux/wait.js';
import { EXEC_FIFO, openContainer } from './state-store.js';
import { containerStatus } from './status.js';
import { hookState, runHooksWarnOnly } from './hooks.js';
import { logWarning } from '../log.js';

export function startContainer(root: string, id: string): void {
  const { lock, state } = openContainer(root, id);
  let started = false;
  try {
    const status = containerStatus(state, lock.dir);
    if (status === 'stopped') throw new TsruncError(`cannot start a container that has stopped: ${id}`);
    if (status === 'running') throw new TsruncError(`cannot start an already running container: ${id}`);
    if (!state.config.process) {
      // runtime-spec: start MUST fail when process is not set. The init can never run
      // anything, so it goes too and the container reads as stopped.
      process.kill(state.pid, 'SIGKILL');
      pollUntil(() => !isSameLiveProcess(state.pid, state.initStartTime), 10_000);
      throw new TsruncError(`cannot start container ${id}: config.json has no process`);
    }
    const fifoPath = path.join(lock.dir, EXEC_FIFO);
    // Non-blocking, so a dead init cannot leave `start` hanging forever.
    const fd = fs.openSync(fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const byte = Buffer.alloc(1);
      for (let attempt = 0; ; attempt++) {
        try {
          if (fs.readSync(fd, byte, 0, 1, null) === 1) break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        }
        if (attempt % 64 === 63 && !isSameLiveProcess(state.pid, state.initStartTime)) {
          throw new TsruncError(`container ${id}: the init exited before it could start the process`);
        }
        sleepSync(1);
      }
      // The init keeps exec.fifo open (close-on-exec) through the startContainer hooks: EOF
      // means execve succeeded; anything written before is why it did not.
      const failure = readUntilEof(fd, () => isSameLiveProcess(state.pid, state.initStartTime));
      if (failure !== '') {
        pollUntil(() => !isSameLiveProcess(state.pid, state.initStartTime), 10_000);
        throw new TsruncError(`cannot start container ${id}: ${failure}`);
      }
      started = true;
    } finally {
      fs.closeSync(fd);
      fs.rmSync(fifoPath, { force: true });
    }
  } finally {
    lock.release();
  }
  // runtime.md Lifecycle step 9, after the lock so a hook may ask `tsrunc state`.
  if (started) runHooksWarnOnly('poststart', state.config.hooks?.poststart, hookState(state, 'running'), logWarning);
}

function readUntilEof(fd: number, alive: () => boolean): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(4096);
  for (let attempt = 0; ; attempt++) {
    try {
      const count = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (count === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, count)));
      continue;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
    if (attempt % 64 === 63 && !alive()) break;
    sleepSync(1);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}
