/**
 * OOM kills on cgroup v2: memory.events' oom_kill, the number of processes the OOM killer
 * killed in the cgroup (and below it). Read at each take(): the caller's timer already ticks
 * at a short interval, so a re-read of one small file costs less than an inotify watch
 * would need (an fd, its own read loop, and a re-read on each change anyway).
 */
import { readKeyValues } from './files.js';
import type { OomWatcher } from './manager.js';

export class OomWatcherV2 implements OomWatcher {
  private seen: number;

  /** `dir`: the container's cgroup in the unified hierarchy. OOM kills from before the watch are not reported. */
  constructor(private readonly dir: string) {
    this.seen = this.oomKills() ?? 0;
  }

  /** undefined once the cgroup is gone (or has no memory controller). */
  private oomKills(): number | undefined {
    return readKeyValues(this.dir, 'memory.events')['oom_kill'];
  }

  take(): number {
    const now = this.oomKills();
    if (now === undefined || now <= this.seen) return 0;
    const count = now - this.seen;
    this.seen = now;
    return count;
  }

  close(): void {
    // nothing held: each take() opens and closes memory.events
  }
}
