/**
 * OOM kills on cgroup v1, runc's way: an eventfd registered through the memory cgroup's
 * cgroup.event_control against memory.oom_control. The kernel adds 1 to the eventfd's counter
 * at each OOM in the cgroup (or below it), and 1 more when the cgroup is removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../../errors.js';
import { close, eventfdNonblocking, readEventfd } from '../libc.js';
import { writeCgroupFile } from './files.js';
import type { OomWatcher } from './manager.js';

export class OomWatcherV1 implements OomWatcher {
  private fd: number | undefined;

  /** `dir`: the container's memory cgroup. */
  constructor(private readonly dir: string) {
    const context = `watching ${dir} for OOM kills`;
    const fd = eventfdNonblocking(context);
    try {
      // The kernel takes its own reference to what it needs from memory.oom_control's file
      // while registering: that fd can be closed once the write is done.
      let control: number;
      try {
        control = fs.openSync(path.join(dir, 'memory.oom_control'), 'r');
      } catch (error) {
        throw new TsruncError(`${context}: ${(error as Error).message}`);
      }
      try {
        writeCgroupFile(dir, 'cgroup.event_control', `${fd} ${control}`);
      } finally {
        fs.closeSync(control);
      }
    } catch (error) {
      close(fd);
      throw error;
    }
    this.fd = fd;
  }

  take(): number {
    if (this.fd === undefined) return 0;
    const count = Number(readEventfd(this.fd, `reading the OOM eventfd of ${this.dir}`));
    if (count === 0) return 0;
    // The removal of the cgroup (delete) signals the eventfd too, once, and no OOM can follow
    // it: once cgroup.event_control is gone, that last 1 is not an OOM (runc tells the two
    // apart the same way, but drops an OOM that came between its last read and the removal).
    if (fs.existsSync(path.join(this.dir, 'cgroup.event_control'))) return count;
    this.close();
    return count - 1;
  }

  close(): void {
    if (this.fd === undefined) return;
    close(this.fd);
    this.fd = undefined;
  }
}
