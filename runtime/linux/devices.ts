/** Device nodes in the container's /dev: the spec's defaults plus linux.devices. */
import fs from 'node:fs';
import path from 'node:path';
import type { DeviceNode } from '../init/plan.js';
import { SyscallError } from '../errors.js';
import * as libc from './libc.js';
import { resolveInRoot, ensureMountTarget } from './paths.js';
import { MS_BIND } from './mount-options.js';

/** The devices every Linux container gets (runtime-spec, "Default Devices"). */
export const defaultDevices: readonly DeviceNode[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

export interface DeviceConfig {
  path: string;
  type: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** Pure: the defaults, overridden or extended by linux.devices (matched by path). */
export function planDevices(configured: readonly DeviceConfig[] = []): DeviceNode[] {
  const byPath = new Map<string, DeviceNode>(defaultDevices.map((d) => [d.path, { ...d }]));
  for (const device of configured) {
    byPath.set(device.path, {
      path: device.path,
      type: device.type as DeviceNode['type'],
      major: device.major ?? 0,
      minor: device.minor ?? 0,
      fileMode: device.fileMode ?? 0o666,
      uid: device.uid ?? 0,
      gid: device.gid ?? 0,
    });
  }
  return [...byPath.values()];
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

function makedev(major: number, minor: number): number {
  // glibc's encoding; Number is exact here because majors stay below 2^20.
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | (major > 0xfff ? (major & ~0xfff) * 2 ** 32 : 0);
}

/** Creates one node inside the rootfs; where mknod is refused, bind-mounts the host's node. */
export function createDevice(rootfs: string, device: DeviceNode): void {
  const target = resolveInRoot(rootfs, device.path);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { force: true });
  const typeBits = device.type === 'b' ? S_IFBLK : device.type === 'p' ? S_IFIFO : S_IFCHR;
  const permissions = device.fileMode & 0o7777;
  try {
    libc.mknod(target, typeBits | permissions, makedev(device.major, device.minor), `creating device ${device.path}`);
  } catch (error) {
    if (!(error instanceof SyscallError && error.errnoName === 'EPERM')) throw error;
    ensureMountTarget(target, true);
    libc.mount(device.path, target, null, MS_BIND, null, `bind-mounting host device ${device.path}`);
    return;
  }
  fs.chmodSync(target, permissions); // mknod is subject to the umask
  fs.chownSync(target, device.uid, device.gid);
}

/** /dev symlinks every container gets. */
export const defaultDevSymlinks: readonly [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

export function createDevSymlinks(rootfs: string): void {
  for (const [linkTarget, linkPath] of defaultDevSymlinks) {
    const where = resolveInRoot(rootfs, linkPath);
    fs.rmSync(where, { force: true });
    fs.symlinkSync(linkTarget, where);
  }
}
