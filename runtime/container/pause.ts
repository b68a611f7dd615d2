/** `tsrunc pause` / `tsrunc resume`: freeze and thaw every process of the container's cgroup. */
import { TsruncError } from '../errors.js';
import { openContainer } from './state-store.js';
import { containerStatus } from './status.js';
import { cgroupOf } from './cgroup-of.js';

export function pauseContainer(root: string, id: string): void {
  const { lock, state } = openContainer(root, id);
  try {
    const status = containerStatus(state, lock.dir);
    if (status !== 'running' && status !== 'created') throw new TsruncError(`cannot pause container ${id}: it is ${status}`);
    cgroupOf(state, 'pause', root).freeze();
  } finally {
    lock.release();
  }
}

export function resumeContainer(root: string, id: string): void {
  const { lock, state } = openContainer(root, id);
  try {
    const status = containerStatus(state, lock.dir);
    if (status !== 'paused') throw new TsruncError(`cannot resume container ${id}: it is ${status}, not paused`);
    cgroupOf(state, 'resume', root).thaw();
  } finally {
    lock.release();
  }
}
