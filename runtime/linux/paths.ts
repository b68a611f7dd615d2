/**
 * Which container paths a mount may cover. The stage resolves a destination inside the rootfs
 * itself (runtime/native/fs.c, open-in-root); tsrunc checks the path config.json names when it
 * plans, and the path the kernel resolved when that differs (a symlink in the rootfs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';

/**
 * Files under /proc a mount may cover, as runc allows (libcontainer/rootfs_linux.go,
 * checkProcMount): the ones lxcfs emulates.
 */
export const procMountAllowList: readonly string[] = [
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/sys/kernel/ns_last_pid',
  '/proc/sys/crypto/fips_enabled',
];

const PROC_SUPER_MAGIC = 0x9fa0;

export interface MountDestination {
  index: number;
  destination: string;
  /** Filesystem type ("" for a bind mount). */
  type: string;
  bind: boolean;
  source: string;
}

function isProcfs(source: string): boolean {
  try {
    return fs.statfsSync(source).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Refuses a mount whose destination, `resolved` (the "/"-rooted container path, symlinks
 * followed), is the root itself or inside /proc, except a proc filesystem on /proc and the
 * allow list. Run on the config's path in the parent and again on the resolved one in the init.
 */
export function checkMountDestination(resolved: string, mount: MountDestination): void {
  const where = `config.json: /mounts/${mount.index}/destination: "${mount.destination}"`;
  const shown = resolved === mount.destination ? where : `${where} resolves to "${resolved}" in the rootfs and`;
  if (resolved === '/') throw new TsruncError(`${shown} would cover the whole rootfs`);
  // As runc: proc and sysfs go on the directory named, never through a symlink there (a
  // rootfs whose /proc or /sys is a symlink would get them where masks and checks do not look).
  if (!mount.bind && (mount.type === 'proc' || mount.type === 'sysfs') && resolved !== path.posix.resolve('/', mount.destination)) {
    throw new TsruncError(`${shown} cannot be mounted: filesystem "${mount.type}" must be mounted on ordinary directory`);
  }
  if (resolved !== '/proc' && !resolved.startsWith('/proc/')) return;
  if (resolved === '/proc') {
    const procfs = mount.bind ? isProcfs(mount.source) : mount.type === 'proc';
    if (procfs) return;
    throw new TsruncError(`${shown} cannot be mounted: only a filesystem of type proc may go on /proc`);
  }
  if (procMountAllowList.includes(resolved)) return;
  throw new TsruncError(`${shown} is inside /proc, where only ${procMountAllowList.join(', ')} may be mounted`);
}
