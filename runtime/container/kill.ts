/** `tsrunc kill`: send a signal to the container's init (the container's PID 1). */
import { TsruncError } from '../errors.js';
import { openContainer } from './state-store.js';
import { containerStatus } from './status.js';

export function killContainer(root: string, id: string, signal: number): void {
  const { lock, state } = openContainer(root, id);
  try {
    if (containerStatus(state, lock.dir) === 'stopped') throw new TsruncError(`container ${id} is not running`);
    try {
      process.kill(state.pid, signal);
    } catch (error) {
      throw new TsruncError(`sending signal ${signal} to container ${id} (pid ${state.pid}): ${(error as NodeJS.ErrnoException).code}`);
    }
  } finally {
    lock.release();
  }
}
