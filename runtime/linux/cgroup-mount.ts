/**
 * A "cgroup" mount in config.json: the container sees its own cgroup directories, not the
 * host's tree. Pure cgroup v2 gets one bind; v1 (and hybrid) gets a tmpfs holding one bind
 * per v1 hierarchy, as runc does. Which hierarchies and paths comes from the init's own
 * mountinfo and /proc/PID/cgroup, read by tsrunc once the init exists.
 */
import path from 'node:path';
import type { Slot, SlotAllocator, StageOp } from '../plan/ops.js';
import { mountOp } from '../plan/ops.js';
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT } from './mount-options.js';
import { decodeMountPath } from './mountinfo.js';

interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  superOptions: string[];
}

function cgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const [fsType, , superOptions] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({ mountPoint: decodeMountPath(before.split(' ')[4]!), fsType, superOptions: (superOptions ?? '').split(',') });
  }
  return mounts;
}

/** A /proc/PID/cgroup: controllers ("" for v2) → path. A v1 path may hold colons: only the first two split. */
export function parseProcCgroup(text: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    result.set(line.slice(first + 1, second), line.slice(second + 1));
  }
  return result;
}

export interface CgroupMountContext {
  root: Slot;
  /** The mount's destination in the container (resolved and checked already). */
  destination: string;
  /** The destination, opened: the tmpfs or bind goes there. */
  target: Slot;
  flags: number;
  label: string;
  slots: SlotAllocator;
  /** The init's /proc/PID/mountinfo and /proc/PID/cgroup. */
  mountinfo: string;
  cgroup: string;
}

/** One host directory bound under the destination, then remounted with the mount's flags. */
function bindOps(context: CgroupMountContext, source: string, destination: string, label: string): StageOp[] {
  const { root, slots } = context;
  const at = slots.take();
  const again = slots.take();
  const remount = context.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  return [
    { op: 'open-in-root', label, root, path: destination, create: 'directory', into: at, check: null },
    mountOp(label, { source, targetFd: at, target: '', flags: MS_BIND }),
    { op: 'close', label, fd: at },
    // The fd above is the directory the bind now covers: open it again to reach the bind.
    { op: 'open-in-root', label, root, path: destination, create: 'no', into: again, check: null },
    mountOp(`${label}: remount`, { targetFd: again, target: '', flags: MS_BIND | MS_REMOUNT | remount }),
    { op: 'close', label, fd: again },
  ];
}

export function cgroupMountOps(context: CgroupMountContext): StageOp[] {
  const mounts = cgroupMounts(context.mountinfo);
  const own = parseProcCgroup(context.cgroup);
  const unified = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === '/sys/fs/cgroup');
  if (unified) {
    return bindOps(context, path.join(unified.mountPoint, own.get('') ?? '/'), context.destination, context.label);
  }
  const ops: StageOp[] = [
    mountOp(context.label, { source: 'tmpfs', targetFd: context.target, target: '', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'mode=755' }),
  ];
  for (const mount of mounts) {
    if (!mount.mountPoint.startsWith('/sys/fs/cgroup/')) continue;
    // A hybrid host's cgroup2 (/sys/fs/cgroup/unified) stays out, as with runc 1.1: systemd in
    // the container would take it for a hybrid setup of its own and freeze on a read-only one.
    if (mount.fsType === 'cgroup2') continue;
    const name = path.basename(mount.mountPoint);
    let cgroupPath: string | undefined;
    for (const [controllers, p] of own) {
      const wanted = controllers.split(',');
      if (controllers !== '' && wanted.every((c) => mount.superOptions.includes(c))) cgroupPath = p;
    }
    if (cgroupPath === undefined) continue;
    ops.push(...bindOps(context, path.join(mount.mountPoint, cgroupPath), path.posix.join(context.destination, name), `${context.label}: ${name}`));
  }
  if (context.flags & MS_RDONLY) {
    const again = context.slots.take();
    ops.push(
      { op: 'open-in-root', label: context.label, root: context.root, path: context.destination, create: 'no', into: again, check: null },
      mountOp(`${context.label}: remount`, { targetFd: again, target: '', flags: MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'mode=755' }),
      { op: 'close', label: context.label, fd: again },
    );
  }
  return ops;
}
