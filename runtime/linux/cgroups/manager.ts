/**
 * One interface over cgroup v1 (and hybrid) and cgroup v2, so the container code never asks
 * which layout the host has. A manager is built from the config at create time, and rebuilt
 * from the paths saved in state.json by every later command.
 */
import type { OciResources } from '../../spec/config.js';

/**
 * Hierarchy → absolute directory: "" for the unified (v2) hierarchy (also on a hybrid host),
 * else the v1 controller as runc keys it ("memory", "cpu" and "cpuacct" even when co-mounted,
 * "name=systemd" for a named hierarchy).
 */
export type CgroupPaths = Record<string, string>;

/** runc's `events --stats` pieces that containerd reads (the "data" of a stats event). */
export interface CgroupStats {
  cpu: { usage: { total: number; percpu?: number[]; kernel: number; user: number }; throttling: { periods: number; throttledPeriods: number; throttledTime: number } };
  memory: {
    cache: number;
    usage: { limit: number; usage: number; max: number; failcnt: number };
    swap?: { limit: number; usage: number; max: number; failcnt: number };
    raw: Record<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: Record<string, unknown>;
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

/** One cgroup file write: the directory, the file and the value. */
export interface PlannedCgroupWrite {
  dir: string;
  file: string;
  value: string;
}

/** The transient unit the systemd driver made for a container (state.json /systemdScope). */
export interface SystemdScope {
  unit: string;
  slice: string;
}

/**
 * The OOM kills of a container's cgroup as they happen (`tsrunc events`). take() never blocks:
 * the caller polls it from a timer, along with its other periodic work.
 */
export interface OomWatcher {
  /** How many OOM kills happened since the last take() (since the watcher was made, the first time). */
  take(): number;
  /** Releases what the watcher holds (an eventfd on v1); idempotent. */
  close(): void;
}

export interface CgroupManager {
  readonly paths: CgroupPaths;
  /** Set when the cgroup is a systemd scope: later commands stop the unit, not only the directory. */
  readonly systemdScope?: SystemdScope;
  /** Makes the directories. */
  create(): void;
  /**
   * The files apply(resources) writes, in order, with their values (`tsrunc explain`): the
   * same list apply() itself writes. v2's device rules are an eBPF program, not a file write.
   */
  plan(resources: OciResources): PlannedCgroupWrite[];
  /** Writes every limit in `resources`; an error names the file and the value. */
  apply(resources: OciResources): void;
  /** Moves `pid` into the cgroup (every hierarchy). */
  join(pid: number): void;
  /** Every pid in the cgroup, sub-cgroups included. */
  pids(): number[];
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  stats(): CgroupStats;
  /** Starts watching for OOM kills (v1: memory.oom_control's eventfd; v2: memory.events' oom_kill). */
  watchOom(): OomWatcher;
  /** Removes the directories (the processes must be gone); idempotent. */
  destroy(): void;
}
