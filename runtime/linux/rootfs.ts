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
import { resolveInRoot, ensureMountTarget } from './paths.js';
import { createDevice, createDevSymlinks } from './devices.js';
import { mountCgroupFs } from './cgroup-mount.js';
import {
  MS_BIND, MS_MOVE, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
  MS_REMOUNT, MS_SLAVE, MS_STRICTATIME,
} from './mount-options.js';

const MNT_DETACH = 2;
const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

function describeMount(step: MountStep): string {
  return `mount ${step.index} (${step.type || 'bind'} ${step.source || 'none'} on ${step.destination})`;
}

function isBind(step: MountStep): boolean {
  return (step.flags & MS_BIND) !== 0;
}

/** Flags a bind mount must be remounted with: bind ignores everything but MS_REC at first. */
const BIND_REMOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 0x400 | 0x800 | 0x200000 | MS_STRICTATIME | 0x100;

function applyMount(rootfs: string, step: MountStep): void {
  const context = describeMount(step);
  const target = resolveInRoot(rootfs, step.destination);
  if (isBind(step)) {
    let sourceIsDir: boolean;
    try {
      sourceIsDir = fs.statSync(step.source).isDirectory();
    } catch {
      throw new TsruncError(`${context}: source ${step.source} does not exist`);
    }
    ensureMountTarget(target, !sourceIsDir);
    libc.mount(step.source, target, null, step.flags & (MS_BIND | MS_REC), null, context);
    const remountFlags = step.flags & BIND_REMOUNT_FLAGS;
    if (remountFlags !== 0) {
      libc.mount(null, target, null, MS_BIND | MS_REMOUNT | remountFlags, null, `${context}: remount`);
    }
  } else if (step.type === 'cgroup') {
    ensureMountTarget(target, false);
    mountCgroupFs(target, step.flags, context);
  } else {
    ensureMountTarget(target, false);
    try {
      libc.mount(step.source || step.type, target, step.type, step.flags, step.data || null, context);
    } catch (error) {
      // A /dev/mqueue or sysfs the kernel refuses here is not worth failing for, as in runc.
      if (step.type === 'mqueue' && error instanceof SyscallError && error.errnoName === 'EPERM') return;
      throw error;
    }
  }
  for (const propagation of step.propagation) {
    libc.mount(null, target, null, propagation, null, `${context}: propagation`);
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

function pivotInto(rootfs: string): void {
  const oldRoot = libc.open('/', O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 'opening the old root');
  const newRoot = libc.open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, `opening rootfs ${rootfs}`);
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
    libc.close(newRoot);
  }
}

function moveInto(rootfs: string): void {
  libc.chdir(rootfs, `entering rootfs ${rootfs}`);
  libc.mount(rootfs, '/', null, MS_MOVE, null, 'moving the rootfs onto /');
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

export function prepareRootfs(plan: RootfsPlan): void {
  const rootfs = plan.rootfs;
  if (plan.chrootOnly) {
    libc.chroot(rootfs, `chroot into ${rootfs}`);
    libc.chdir('/', 'entering the new root');
    return;
  }
  libc.mount(null, '/', null, plan.propagation ?? MS_SLAVE | MS_REC, null, 'setting the propagation of /');
  // pivot_root refuses a new root whose parent mount is shared.
  libc.mount(null, mountPointOf(path.dirname(rootfs)), null, MS_PRIVATE, null, 'making the rootfs parent private');
  libc.mount(rootfs, rootfs, null, MS_BIND | MS_REC, null, `bind-mounting rootfs ${rootfs}`);

  if (plan.mountDefaultDev) {
    const dev = resolveInRoot(rootfs, '/dev');
    ensureMountTarget(dev, false);
    libc.mount('tmpfs', dev, 'tmpfs', MS_NOSUID | MS_STRICTATIME, 'mode=755,size=65536k', 'mounting the default /dev');
    for (const dir of ['/dev/pts', '/dev/shm']) fs.mkdirSync(resolveInRoot(rootfs, dir), { recursive: true });
  }
  for (const step of plan.mounts) applyMount(rootfs, step);
  if (plan.createDevices) {
    for (const device of plan.devices) createDevice(rootfs, device);
    createDevSymlinks(rootfs);
  }

  if (plan.noPivot) moveInto(rootfs);
  else pivotInto(rootfs);
  if (plan.propagation !== undefined) {
    libc.mount(null, '/', null, plan.propagation, null, 'setting the propagation of the container root');
  }

  for (const masked of plan.maskedPaths) maskPath(masked);
  for (const readonly of plan.readonlyPaths) makeReadonly(readonly);
  if (plan.readonly) {
    libc.mount(null, '/', null, MS_BIND | MS_REMOUNT | MS_RDONLY, null, 'making the root read-only');
  }
}
