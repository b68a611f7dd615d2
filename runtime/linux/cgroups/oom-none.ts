/** The OOM watcher of a container without a memory cgroup (a v1 host that does not mount it, a rootless container without one): never an OOM to report. */
import type { OomWatcher } from './manager.js';

export const noOomWatcher: OomWatcher = {
  take: () => 0,
  close: () => undefined,
};
