/** Device nodes in the container's /dev: the spec's defaults plus linux.devices. */
import path from 'node:path';
import type { DeviceNode } from '../plan/types.js';
import type { Slot, SlotAllocator, StageOp } from '../plan/ops.js';
import { TsruncError } from '../errors.js';

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

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** glibc's makedev(): 12-bit major and 20-bit minor split as the kernel's new_encode_dev reads them. */
export function makedev(major: number, minor: number): number {
  const low = (major % 0x1000) * 0x100 + (minor % 0x100) + Math.floor(minor / 0x100) * 0x100000;
  return low + Math.floor(major / 0x1000) * 0x1000 * 2 ** 32;
}

/**
 * Each node made inside the rootfs: its directory resolved inside the rootfs (created where
 * missing), the node made relative to that directory's fd, whatever was there removed first;
 * where mknod is refused (no CAP_MKNOD, a user namespace, a device cgroup) the stage bind-mounts
 * the host's node at the same path instead.
 */
export function deviceOps(root: Slot, devices: readonly DeviceNode[], slots: SlotAllocator, step: string): StageOp[] {
  const ops: StageOp[] = [];
  for (const device of devices) {
    const label = `${step}: creating device ${device.path}`;
    const dir = slots.take();
    ops.push(
      { op: 'open-in-root', label, root, path: path.posix.dirname(device.path), create: 'directory', into: dir, check: null },
      {
        op: 'device', label, dir, name: path.posix.basename(device.path),
        type: device.type === 'b' ? S_IFBLK : device.type === 'p' ? S_IFIFO : S_IFCHR,
        permissions: device.fileMode & 0o7777, dev: device.type === 'p' ? 0 : makedev(device.major, device.minor),
        uid: device.uid, gid: device.gid, hostPath: device.path,
      },
      { op: 'close', label, fd: dir },
    );
  }
  return ops;
}

/** /dev symlinks every container gets. */
export const defaultDevSymlinks: readonly [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

export function devSymlinkOps(root: Slot, slots: SlotAllocator, step: string): StageOp[] {
  const ops: StageOp[] = [];
  for (const [linkTarget, linkPath] of defaultDevSymlinks) {
    const label = `${step}: creating symlink ${linkPath}`;
    const dir = slots.take();
    const name = path.posix.basename(linkPath);
    ops.push(
      { op: 'open-in-root', label, root, path: path.posix.dirname(linkPath), create: 'directory', into: dir, check: null },
      { op: 'unlink', label, dir, name, flags: 0, ignoreMissing: true },
      { op: 'symlink', label, dir, target: linkTarget, name },
      { op: 'close', label, fd: dir },
    );
  }
  return ops;
}
