/** Device nodes in the container's /dev: the spec's defaults plus linux.devices. */
import fs from 'node:fs';
import path from 'node:path';
import type { DeviceNode } from '../init/plan.js';
import { SyscallError, TsruncError } from '../errors.js';
import * as libc from './libc.js';
import { fdPath, type RootDir } from './paths.js';
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
  configured.forEach((device, index) => {
    const where = `config.json: /linux/devices/${index}/path`;
    if (!device.path.startsWith('/')) throw new TsruncError(`${where}: "${device.path}" is not an absolute path`);
    const devicePath = path.posix.normalize(device.path).replace(/(.)\/+$/, '$1');
    if (devicePath === '/') throw new TsruncError(`${where}: "${device.path}" names no file`);
    byPath.set(devicePath, {
      path: devicePath,
      type: device.type as DeviceNode['type'],
      major: device.major ?? 0,
      minor: device.minor ?? 0,
      fileMode: device.fileMode ?? 0o666,
      uid: device.uid ?? 0,
      gid: device.gid ?? 0,
    });
  });
  return [...byPath.values()];
}

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** glibc's makedev(): 12-bit major and 20-bit minor split as the kernel's new_encode_dev reads them. */
export function makedev(major: number, minor: number): number {
  const low = (major % 0x1000) * 0x100 + (minor % 0x100) + Math.floor(minor / 0x100) * 0x100000;
  return low + Math.floor(major / 0x1000) * 0x1000 * 2 ** 32;
}

/** Removes what is at `name` in `dirFd` (a stale node or file); a directory there is an error. */
function unlinkIfThere(dirFd: number, name: string, context: string): void {
  try {
    libc.unlinkat(dirFd, name, 0, context);
  } catch (error) {
    if (!(error instanceof SyscallError && error.errnoName === 'ENOENT')) throw error;
  }
}

/**
 * Creates one node inside the rootfs (its directory resolved inside the rootfs, the node made
 * relative to that directory's fd); where mknod is refused, bind-mounts the host's node.
 */
export function createDevice(root: RootDir, device: DeviceNode): void {
  const context = `creating device ${device.path}`;
  const name = path.posix.basename(device.path);
  const dir = root.open(path.posix.dirname(device.path), { create: 'directory', context });
  try {
    unlinkIfThere(dir, name, context);
    const typeBits = device.type === 'b' ? S_IFBLK : device.type === 'p' ? S_IFIFO : S_IFCHR;
    const permissions = device.fileMode & 0o7777;
    const dev = device.type === 'p' ? 0 : makedev(device.major, device.minor);
    const oldUmask = libc.umask(0); // the node gets exactly fileMode
    try {
      libc.mknodat(dir, name, typeBits | permissions, dev, context);
    } catch (error) {
      if (!(error instanceof SyscallError && error.errnoName === 'EPERM')) throw error;
      bindHostDevice(dir, name, device, context);
      return;
    } finally {
      libc.umask(oldUmask);
    }
    const node = libc.openat(dir, name, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0, context);
    try {
      const stat = fs.fstatSync(node);
      if ((stat.mode & S_IFMT) !== typeBits || (device.type !== 'p' && stat.rdev !== dev)) {
        throw new TsruncError(`${context}: the new node is not the ${device.type} ${device.major}:${device.minor} that was made`);
      }
      if (device.uid !== 0 || device.gid !== 0) {
        libc.fchownat(node, '', device.uid, device.gid, libc.AT_EMPTY_PATH, context);
        // chown clears the set-user-ID and set-group-ID bits: give them back.
        if (permissions & 0o6000) fs.chmodSync(fdPath(node), permissions);
      }
    } finally {
      libc.close(node);
    }
  } finally {
    libc.close(dir);
  }
}

/** mknod refused (e.g. without CAP_MKNOD): the host's node at the same path, bind-mounted. */
function bindHostDevice(dir: number, name: string, device: DeviceNode, context: string): void {
  libc.close(libc.openat(dir, name, libc.O_WRONLY | libc.O_CREAT | libc.O_EXCL | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0o644, context));
  const target = libc.openat(dir, name, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0, context);
  try {
    libc.mount(device.path, fdPath(target), null, MS_BIND, null, `bind-mounting host device ${device.path}`);
  } finally {
    libc.close(target);
  }
}

/** /dev symlinks every container gets. */
export const defaultDevSymlinks: readonly [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

export function createDevSymlinks(root: RootDir): void {
  for (const [linkTarget, linkPath] of defaultDevSymlinks) {
    const context = `creating symlink ${linkPath}`;
    const dir = root.open(path.posix.dirname(linkPath), { create: 'directory', context });
    try {
      const name = path.posix.basename(linkPath);
      unlinkIfThere(dir, name, context);
      libc.symlinkat(linkTarget, dir, name, context);
    } finally {
      libc.close(dir);
    }
  }
}
