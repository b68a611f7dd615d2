/**
 * Preparing the container's root filesystem inside the init's new mount namespace:
 * propagation, the rootfs bind, the config's mounts in order, /dev, pivot_root (or
 * MS_MOVE + chroot), then masked and read-only paths.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MountStep, RootfsPlan } from '../init/plan.js';
import { SyscallError, TsruncError } from '../errors.js';
import * as libc from './libc.js';
import { RootDir, checkMountDestination, fdPath, type CreateKind } from './paths.js';
import { withMountLabel } from './lsm.js';
import { createDevice, createDevSymlinks } from './devices.js';
import { mountCgroupFs } from './cgroup-mount.js';
import {
  MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
  MS_REMOUNT, MS_SLAVE, MS_STRICTATIME,
} from './mount-options.js';

const MNT_DETACH = 2;

function describeMount(step: MountStep): string {
  return `mount ${step.index} (${step.type || 'bind'} ${step.source || 'none'} on ${step.destination})`;
}

function isBind(step: MountStep): boolean {
  return (step.flags & MS_BIND) !== 0;
}

/** Flags a bind mount must be remounted with: bind ignores everything but MS_REC at first. */
const BIND_REMOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 0x400 | 0x800 | 0x200000 | MS_STRICTATIME | 0x100;

/** Adds SELinux's context= to a filesystem's data, as runc does (never for proc, sysfs, mqueue, cgroup). */
function labelled(step: MountStep, mountLabel: string | undefined): string | null {
  const unlabelled = ['proc', 'sysfs', 'mqueue', 'cgroup', 'cgroup2'];
  return withMountLabel(step.data, unlabelled.includes(step.type) ? undefined : mountLabel) || null;
}

/**
 * One mount of config.json. Its destination is resolved inside the rootfs by the kernel
 * (RootDir.open), checked (not on /, not inside /proc), and the mount goes onto the resolved
 * fd through /proc/self/fd/N, so no symlink can send it to the host.
 */
function applyMount(root: RootDir, step: MountStep, mountLabel: string | undefined): void {
  const context = describeMount(step);
  const bind = isBind(step);
  const tree = step.treeFd;
  let create: CreateKind = 'directory';
  if (bind) {
    try {
      // A detached source (tree) was opened by `tsrunc create`: this init may not reach the path.
      create = (tree !== undefined ? fs.fstatSync(tree) : fs.statSync(step.source)).isDirectory() ? 'directory' : 'file';
    } catch {
      throw new TsruncError(`${context}: source ${step.source} does not exist`);
    }
  }
  const source = tree !== undefined ? fdPath(tree) : step.source;
  const destination = { index: step.index, destination: step.destination, type: step.type, bind, source };
  const check = (resolved: string) => checkMountDestination(resolved, destination);
  const target = root.open(step.destination, { create, check, context });
  try {
    if (tree !== undefined) {
      // Made, flags and all, by `tsrunc create` (user-namespace-mounts.ts): only moved into place here.
      libc.moveMount(tree, target, context);
      libc.close(tree);
    } else if (bind) {
      libc.mount(step.source, fdPath(target), null, step.flags & (MS_BIND | MS_REC), null, context);
    } else if (step.type === 'cgroup') {
      // mountCgroupFs works on paths below its target, inside the tmpfs it mounts there: give
      // it the resolved path (symlink-free, inside the rootfs) rather than the fd's.
      mountCgroupFs(root.reachablePath(target, context), step.flags, context);
    } else {
      try {
        libc.mount(step.source || step.type, fdPath(target), step.type, step.flags, labelled(step, mountLabel), context);
      } catch (error) {
        // A /dev/mqueue or sysfs the kernel refuses here is not worth failing for, as in runc.
        if (step.type === 'mqueue' && error instanceof SyscallError && error.errnoName === 'EPERM') return;
        throw error;
      }
    }
  } finally {
    libc.close(target);
  }
  const remountFlags = bind && tree === undefined ? step.flags & BIND_REMOUNT_FLAGS : 0;
  if (remountFlags === 0 && step.propagation.length === 0) return;
  // The fd is the directory the mount now covers: open the destination again to reach the mount.
  const mounted = root.open(step.destination, { check, context });
  try {
    if (remountFlags !== 0) {
      libc.mount(null, fdPath(mounted), null, MS_BIND | MS_REMOUNT | remountFlags, null, `${context}: remount`);
    }
    for (const propagation of step.propagation) {
      libc.mount(null, fdPath(mounted), null, propagation, null, `${context}: propagation`);
    }
  } finally {
    libc.close(mounted);
  }
}

/** The mount point that holds `dir`, from this namespace's mountinfo. */
function mountPointOf(dir: string): string {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  let best = '/';
  for (const point of points) {
    if ((dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length > best.length) {
      best = point;
    }
  }
  return best;
}

/** `rootFd`: the rootfs mount as an fd (the caller closes it); undefined: opened by path. */
function pivotInto(rootfs: string, rootFd: number | undefined): void {
  const oldRoot = libc.open('/', libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, 'opening the old root');
  const newRoot = rootFd ?? libc.open(rootfs, libc.O_RDONLY | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, `opening rootfs ${rootfs}`);
  try {
    libc.fchdir(newRoot, 'entering the rootfs');
    libc.pivotRoot('.', '.', `pivot_root into ${rootfs}`);
    // The old root now sits on top of "."; detach it without propagating to the host.
    libc.fchdir(oldRoot, 'entering the old root');
    libc.mount(null, '.', null, MS_SLAVE | MS_REC, null, 'making the old root a slave');
    libc.umount2('.', MNT_DETACH, 'detaching the old root');
    libc.chdir('/', 'entering the new root');
  } finally {
    libc.close(oldRoot);
    if (rootFd === undefined) libc.close(newRoot);
  }
}

function moveInto(rootfs: string, rootFd: number | undefined): void {
  if (rootFd !== undefined) libc.fchdir(rootFd, `entering rootfs ${rootfs}`);
  else libc.chdir(rootfs, `entering rootfs ${rootfs}`);
  libc.mount(rootFd !== undefined ? '.' : rootfs, '/', null, MS_MOVE, null, 'moving the rootfs onto /');
  libc.chroot('.', 'chroot into the rootfs');
  libc.chdir('/', 'entering the new root');
}

function maskPath(containerPath: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(containerPath);
  } catch {
    return; // nothing to mask
  }
  if (stat.isDirectory()) {
    libc.mount('tmpfs', containerPath, 'tmpfs', MS_RDONLY, null, `masking ${containerPath}`);
  } else {
    libc.mount('/dev/null', containerPath, null, MS_BIND, null, `masking ${containerPath}`);
  }
}

function makeReadonly(containerPath: string): void {
  if (!fs.existsSync(containerPath)) return;
  const context = `making ${containerPath} read-only`;
  libc.mount(containerPath, containerPath, null, MS_BIND | MS_REC, null, context);
  const flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  try {
    libc.mount(null, containerPath, null, flags, null, context);
  } catch {
    // Some filesystems refuse nosuid/nodev/noexec changes; read-only is what matters.
    libc.mount(null, containerPath, null, MS_BIND | MS_REMOUNT | MS_RDONLY, null, context);
  }
}

/**
 * `beforePivot` runs once the mounts and devices are in place, while the host's root is still
 * the process's root: the init runs the OCI createContainer hooks (and waits for the parent's
 * prestart/createRuntime hooks) there.
 */
export function prepareRootfs(plan: RootfsPlan, beforePivot?: () => void): void {
  const rootfs = plan.rootfs;
  if (plan.chrootOnly) {
    beforePivot?.();
    libc.chroot(rootfs, `chroot into ${rootfs}`);
    libc.chdir('/', 'entering the new root');
    return;
  }
  libc.mount(null, '/', null, plan.propagation ?? MS_SLAVE | MS_REC, null, 'setting the propagation of /');
  // pivot_root refuses a new root whose parent mount is shared, and a bind of the rootfs under a
  // shared parent would show on the host. Slave keeps host mounts flowing in, as (r)slave asks.
  const parentPropagation = plan.propagation !== undefined && (plan.propagation & MS_SLAVE) !== 0 ? MS_SLAVE : MS_PRIVATE;
  libc.mount(null, mountPointOf(path.dirname(rootfs)), null, parentPropagation, null, 'setting the propagation of the rootfs parent');
  const rootFd = plan.rootfsAtCwd ? bindRootfsAtCwd(rootfs) : undefined;
  if (rootFd === undefined) libc.mount(rootfs, rootfs, null, MS_BIND | MS_REC, null, `bind-mounting rootfs ${rootfs}`);
  try {
    prepareInRootfs(plan, rootFd, beforePivot);
  } finally {
    if (rootFd !== undefined) libc.close(rootFd);
  }
}

/**
 * The rootfs bound on itself, from the working directory the init started in (an init in a
 * user namespace may not walk the host path to it): a recursive clone of it, moved on top of
 * it. Returns the new mount, as an fd.
 */
function bindRootfsAtCwd(rootfs: string): number {
  const context = `bind-mounting rootfs ${rootfs}`;
  const below = libc.open('.', libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, `${context}: opening it`);
  try {
    const tree = libc.openTreeOf(below, libc.OPEN_TREE_CLONE | libc.AT_RECURSIVE, context);
    try {
      libc.moveMount(tree, below, context);
      return tree;
    } catch (error) {
      libc.close(tree);
      throw error;
    }
  } finally {
    libc.close(below);
  }
}

function prepareInRootfs(plan: RootfsPlan, rootFd: number | undefined, beforePivot: (() => void) | undefined): void {
  const rootfs = plan.rootfs;
  // Everything up to pivot_root is resolved inside the rootfs through this fd (paths.ts).
  const root = new RootDir(rootFd ?? rootfs);
  try {
    if (plan.mountDefaultDev) {
      const context = 'mounting the default /dev';
      const dev = root.open('/dev', { create: 'directory', context });
      try {
        const data = withMountLabel('mode=755,size=65536k', plan.mountLabel);
        libc.mount('tmpfs', fdPath(dev), 'tmpfs', MS_NOSUID | MS_STRICTATIME, data, context);
      } finally {
        libc.close(dev);
      }
      for (const dir of ['/dev/pts', '/dev/shm']) libc.close(root.open(dir, { create: 'directory', context }));
    }
    for (const step of plan.mounts) applyMount(root, step, plan.mountLabel);
    if (plan.createDevices) {
      for (const device of plan.devices) createDevice(root, device);
      createDevSymlinks(root);
    }
  } finally {
    root.close();
  }

  beforePivot?.();
  if (plan.noPivot) moveInto(rootfs, rootFd);
  else pivotInto(rootfs, rootFd);
  // (r)private and (r)slave were set on / before the mounts; set again, they would undo the
  // propagation options of single mounts. shared and unbindable only take effect now (as in runc).
  if (plan.propagation !== undefined && (plan.propagation & (MS_PRIVATE | MS_SLAVE)) === 0) {
    libc.mount(null, '/', null, plan.propagation, null, 'setting the propagation of the container root');
  }

  for (const masked of plan.maskedPaths) maskPath(masked);
  for (const readonly of plan.readonlyPaths) makeReadonly(readonly);
  if (plan.readonly) {
    libc.mount(null, '/', null, MS_BIND | MS_REMOUNT | MS_RDONLY, null, 'making the root read-only');
  }
}
