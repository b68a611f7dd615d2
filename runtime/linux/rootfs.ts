/**
 * The container's root filesystem as stage operations, made in the init's new mount namespace:
 * propagation, the rootfs bound onto itself, the config's mounts in order, /dev, then (after
 * what must happen before it: the createContainer hooks) pivot_root or MS_MOVE + chroot, then
 * masked and read-only paths.
 *
 * Every destination is resolved inside the rootfs by the stage (open-in-root: openat2 with
 * RESOLVE_IN_ROOT) and mounted onto the fd it gets; where the kernel's answer differs from the
 * path checked here, tsrunc checks the resolved one too (checkMountDestination) before the
 * stage creates or mounts anything there.
 */
import path from 'node:path';
import type { MountStep, RootfsPlan } from '../plan/types.js';
import { mountOp, type Slot, type SlotAllocator, type StageOp } from '../plan/ops.js';
import { withMountLabel } from './lsm.js';
import { deviceOps, devSymlinkOps } from './devices.js';
import { cgroupMountOps } from './cgroup-mount.js';
import { mountEntries, mountPointOf } from './mountinfo.js';
import type { MountDestination } from './paths.js';
import { AT_EMPTY_PATH, AT_RECURSIVE, O_DIRECTORY, O_PATH, O_RDONLY, OPEN_TREE_CLONE } from './libc.js';
import {
  MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SLAVE, MS_STRICTATIME,
} from './mount-options.js';

const MNT_DETACH = 2;
const EPERM = 1;
const ENOENT = 2;
const EINVAL = 22;
const STEP = 'preparing the rootfs';

/** Flags a bind mount must be remounted with: bind ignores everything but MS_REC at first. */
const BIND_REMOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 0x400 | 0x800 | 0x200000 | MS_STRICTATIME | 0x100;

export interface RootfsContext {
  slots: SlotAllocator;
  /** Destinations tsrunc judges again when the stage resolves them elsewhere (a check id is an index here). */
  checks: MountDestination[];
  /** The detached mount handed to the stage for each mount index that has one. */
  trees: ReadonlyMap<number, Slot>;
  /** The init's /proc/PID/mountinfo and /proc/PID/cgroup. */
  mountinfo: string;
  cgroup: string;
  /** What happens once the mounts are in place, before the root changes (the createContainer hooks...). */
  beforePivot: StageOp[];
}

function describeMount(step: MountStep): string {
  return `${STEP}: mount ${step.index} (${step.type || 'bind'} ${step.source || 'none'} on ${step.destination})`;
}

/** Adds SELinux's context= to a filesystem's data, as runc does (never for proc, sysfs, mqueue, cgroup). */
function labelled(step: MountStep, mountLabel: string | undefined): string | null {
  const unlabelled = ['proc', 'sysfs', 'mqueue', 'cgroup', 'cgroup2'];
  return withMountLabel(step.data, unlabelled.includes(step.type) ? undefined : mountLabel) || null;
}

/** One mount of config.json, onto its destination resolved inside the root. */
function mountStepOps(root: Slot, step: MountStep, plan: RootfsPlan, context: RootfsContext): StageOp[] {
  const label = describeMount(step);
  const bind = (step.flags & MS_BIND) !== 0;
  const tree = context.trees.get(step.index);
  const check = context.checks.push({ index: step.index, destination: step.destination, type: step.type, bind, source: step.source }) - 1;
  const target = context.slots.take();
  // A bind's mount point is a directory or a file as its source is: known to tsrunc for a
  // detached tree, looked at by the stage for the rest (an earlier mount may have made the source).
  const create = !bind ? 'directory' : tree === undefined ? 'as-source' : step.sourceIsDirectory === false ? 'file' : 'directory';
  const ops: StageOp[] = [
    { op: 'open-in-root', label, root, path: step.destination, create, into: target, check, ...(create === 'as-source' ? { source: step.source } : {}) },
  ];
  if (tree !== undefined) {
    // Made, flags and all, by `tsrunc create` (user-namespace-mounts.ts): only moved into place here.
    ops.push({ op: 'move-mount', label, from: tree, to: target }, { op: 'close', label, fd: tree });
  } else if (bind) {
    ops.push(mountOp(label, { source: step.source, targetFd: target, target: '', flags: step.flags & (MS_BIND | MS_REC) }));
  } else if (step.type === 'cgroup') {
    ops.push(...cgroupMountOps({
      root, destination: step.destination, target, flags: step.flags, label, slots: context.slots,
      mountinfo: context.mountinfo, cgroup: context.cgroup,
    }));
  } else {
    ops.push(mountOp(label, {
      source: step.source || step.type, targetFd: target, target: '', fstype: step.type, flags: step.flags,
      data: labelled(step, plan.mountLabel),
      // A /dev/mqueue the kernel refuses here is not worth failing for, as in runc.
      ignoreErrno: step.type === 'mqueue' ? EPERM : 0,
      modeOfTarget: step.type === 'tmpfs',
    }));
    if (step.copyUp) {
      // `target` is still the directory the tmpfs now covers: its contents go into the tmpfs.
      const tmpfs = context.slots.take();
      ops.push(
        { op: 'open-in-root', label, root, path: step.destination, create: 'no', into: tmpfs, check },
        { op: 'copy-tree', label: `${label}: tmpcopyup`, from: target, to: tmpfs },
        { op: 'close', label, fd: tmpfs },
      );
    }
  }
  ops.push({ op: 'close', label, fd: target });
  const remountFlags = bind && tree === undefined ? step.flags & BIND_REMOUNT_FLAGS : 0;
  if (remountFlags === 0 && step.propagation.length === 0 && !step.recursive) return ops;
  // The fd above is the directory the mount now covers: open the destination again to reach the mount.
  const mounted = context.slots.take();
  ops.push({ op: 'open-in-root', label, root, path: step.destination, create: 'no', into: mounted, check });
  if (remountFlags !== 0) ops.push(mountOp(`${label}: remount`, { targetFd: mounted, target: '', flags: MS_BIND | MS_REMOUNT | remountFlags }));
  for (const propagation of step.propagation) {
    ops.push(mountOp(`${label}: propagation`, { targetFd: mounted, target: '', flags: propagation }));
  }
  // Last, so they reach every mount below, whatever made it (rbind, the cgroup binds).
  if (step.recursive) ops.push({ op: 'mount-setattr', label: `${label}: recursive options`, target: mounted, ...step.recursive });
  ops.push({ op: 'close', label, fd: mounted });
  return ops;
}

function defaultDevOps(root: Slot, plan: RootfsPlan, slots: SlotAllocator): StageOp[] {
  const label = `${STEP}: mounting the default /dev`;
  const dev = slots.take();
  const ops: StageOp[] = [
    { op: 'open-in-root', label, root, path: '/dev', create: 'directory', into: dev, check: null },
    mountOp(label, {
      source: 'tmpfs', targetFd: dev, target: '', fstype: 'tmpfs', flags: MS_NOSUID | MS_STRICTATIME,
      data: withMountLabel('mode=755,size=65536k', plan.mountLabel),
    }),
    { op: 'close', label, fd: dev },
  ];
  for (const dir of ['/dev/pts', '/dev/shm']) {
    const fd = slots.take();
    ops.push({ op: 'open-in-root', label, root, path: dir, create: 'directory', into: fd, check: null }, { op: 'close', label, fd });
  }
  return ops;
}

/** The rootfs bound onto itself; returns the slot of the bind (an O_PATH fd of the new root). */
function bindRootfsOps(plan: RootfsPlan, slots: SlotAllocator, ops: StageOp[]): Slot {
  const label = `${STEP}: bind-mounting rootfs ${plan.rootfs}`;
  const root = slots.take();
  if (plan.rootfsAtCwd) {
    // The stage entered the rootfs before its user namespace existed, and may not walk the host
    // path now: a recursive clone of its working directory, moved on top of it.
    const below = slots.take();
    ops.push(
      { op: 'open', label, dir: null, path: '.', flags: O_PATH | O_DIRECTORY, mode: 0, into: below },
      { op: 'open-tree', label, dir: below, path: '', flags: OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH, into: root },
      { op: 'move-mount', label, from: root, to: below },
      { op: 'close', label, fd: below },
    );
  } else {
    ops.push(
      mountOp(label, { source: plan.rootfs, target: plan.rootfs, flags: MS_BIND | MS_REC }),
      { op: 'open', label, dir: null, path: plan.rootfs, flags: O_PATH | O_DIRECTORY, mode: 0, into: root },
    );
  }
  return root;
}

/**
 * The host's full proc and sysfs mounts (the filesystem's root mounted) outside the rootfs, as
 * the init's mountinfo lists them, deepest first. With --no-pivot they stay in the container's
 * mount namespace after the chroot, and the kernel lets a process mount a new proc (sysfs) in a
 * user namespace of its own as long as a fully visible one is there (`unshare -mrpf mount -t
 * proc`): runc's msMoveRoot takes them away, and so does tsrunc.
 */
export function hostProcSysMounts(rootfs: string, mountinfo: string): string[] {
  const inside = (point: string): boolean => point === rootfs || point.startsWith(rootfs.endsWith('/') ? rootfs : `${rootfs}/`);
  const points = mountEntries(mountinfo)
    .filter((entry) => entry.root === '/' && (entry.fstype === 'proc' || entry.fstype === 'sysfs') && !inside(entry.mountPoint))
    .map((entry) => entry.mountPoint);
  // Below one another, the deeper first: a covered parent would still leave a child visible.
  return points.map((point, order) => ({ point, order, depth: point === '/' ? 0 : point.split('/').length }))
    .sort((a, b) => b.depth - a.depth || b.order - a.order)
    .map((entry) => entry.point);
}

/**
 * For each of those: made a slave first (the umount must not reach the host, whatever the
 * root's propagation), detached; where the kernel refuses (EINVAL: a mount locked by a user
 * namespace; EPERM), covered with an empty read-only tmpfs, which hides it from the kernel's
 * check as well. ENOENT: already gone with a mount detached before it.
 */
export function hideHostProcSysOps(points: readonly string[]): StageOp[] {
  return points.flatMap((point): StageOp[] => {
    const label = `${STEP}: hiding the host's ${point} (--no-pivot)`;
    return [
      mountOp(`${label}: making it a slave`, { target: point, flags: MS_SLAVE | MS_REC, ignoreErrno: ENOENT }),
      { op: 'umount', label: `${label}: detaching it`, target: point, flags: MNT_DETACH, ignoreErrno: [EINVAL, EPERM, ENOENT] },
      mountOp(`${label}: covering it with a tmpfs`, {
        source: 'tmpfs', target: point, fstype: 'tmpfs', flags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
        ignoreErrno: ENOENT, onlyAfterIgnored: true,
      }),
    ];
  });
}

function pivotOps(plan: RootfsPlan, root: Slot, slots: SlotAllocator, mountinfo: string): StageOp[] {
  if (plan.noPivot) {
    const label = `${STEP}: moving the rootfs onto / (--no-pivot)`;
    return [
      ...hideHostProcSysOps(hostProcSysMounts(plan.rootfs, mountinfo)),
      { op: 'fchdir', label, fd: root },
      mountOp(label, { source: '.', target: '/', flags: MS_MOVE }),
      { op: 'chroot', label: `${STEP}: chroot into the rootfs`, path: '.' },
      { op: 'chdir', label: `${STEP}: entering the new root`, path: '/' },
      { op: 'close', label, fd: root },
    ];
  }
  const label = `${STEP}: pivot_root into ${plan.rootfs}`;
  const oldRoot = slots.take();
  return [
    { op: 'open', label: `${STEP}: opening the old root`, dir: null, path: '/', flags: O_RDONLY | O_DIRECTORY, mode: 0, into: oldRoot },
    { op: 'fchdir', label: `${STEP}: entering the rootfs`, fd: root },
    { op: 'pivot-root', label, newRoot: '.', putOld: '.' },
    // The old root now sits on top of "."; detach it without propagating to the host.
    { op: 'fchdir', label: `${STEP}: entering the old root`, fd: oldRoot },
    mountOp(`${STEP}: making the old root a slave`, { target: '.', flags: MS_SLAVE | MS_REC }),
    { op: 'umount', label: `${STEP}: detaching the old root`, target: '.', flags: MNT_DETACH, ignoreErrno: [] },
    { op: 'chdir', label: `${STEP}: entering the new root`, path: '/' },
    { op: 'close', label, fd: oldRoot },
    { op: 'close', label, fd: root },
  ];
}

/** A read-only /dev made read-only last, after the console too is bound onto /dev/console. */
export function devReadonlyOps(plan: RootfsPlan): StageOp[] {
  if (plan.devReadonlyFlags === undefined || plan.chrootOnly) return [];
  return [mountOp(`${STEP}: making /dev read-only`, { target: '/dev', flags: plan.devReadonlyFlags | MS_BIND | MS_REMOUNT | MS_RDONLY })];
}

export function rootfsOps(plan: RootfsPlan, context: RootfsContext): StageOp[] {
  if (plan.chrootOnly) {
    return [
      ...context.beforePivot,
      { op: 'chroot', label: `${STEP}: chroot into ${plan.rootfs}`, path: plan.rootfs },
      { op: 'chdir', label: `${STEP}: entering the new root`, path: '/' },
    ];
  }
  const { slots } = context;
  const ops: StageOp[] = [
    mountOp(`${STEP}: setting the propagation of /`, { target: '/', flags: plan.propagation ?? MS_SLAVE | MS_REC }),
  ];
  // pivot_root refuses a new root whose parent mount is shared, and a bind of the rootfs under a
  // shared parent would show on the host. Slave keeps host mounts flowing in, as (r)slave asks.
  const parentPropagation = plan.propagation !== undefined && (plan.propagation & MS_SLAVE) !== 0 ? MS_SLAVE : MS_PRIVATE;
  const parentMount = mountPointOf(path.dirname(plan.rootfs), context.mountinfo);
  ops.push(mountOp(`${STEP}: setting the propagation of the rootfs parent ${parentMount}`, { target: parentMount, flags: parentPropagation }));
  const root = bindRootfsOps(plan, slots, ops);
  if (plan.mountDefaultDev) ops.push(...defaultDevOps(root, plan, slots));
  for (const step of plan.mounts) ops.push(...mountStepOps(root, step, plan, context));
  if (plan.createDevices) {
    ops.push(...deviceOps(root, plan.devices, slots, STEP), ...devSymlinkOps(root, slots, STEP));
  }
  ops.push(...context.beforePivot, ...pivotOps(plan, root, slots, context.mountinfo));
  // (r)private and (r)slave were set on / before the mounts; set again, they would undo the
  // propagation options of single mounts. shared and unbindable only take effect now (as in runc).
  if (plan.propagation !== undefined && (plan.propagation & (MS_PRIVATE | MS_SLAVE)) === 0) {
    ops.push(mountOp(`${STEP}: setting the propagation of the container root`, { target: '/', flags: plan.propagation }));
  }
  for (const masked of plan.maskedPaths) ops.push({ op: 'mask', label: `${STEP}: masking ${masked}`, path: masked });
  for (const readonly of plan.readonlyPaths) ops.push({ op: 'readonly', label: `${STEP}: making ${readonly} read-only`, path: readonly });
  if (plan.readonly) {
    ops.push(mountOp(`${STEP}: making the root read-only`, { target: '/', flags: MS_BIND | MS_REMOUNT | MS_RDONLY }));
  }
  return ops;
}
