/**
 * A "cgroup" mount in config.json: the container sees its own cgroup directories, not the
 * host's tree. Pure cgroup v2 gets one bind; v1 (and hybrid) gets a tmpfs holding one bind
 * per hierarchy, as runc does.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as libc from './libc.js';
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT } from './mount-options.js';

interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  superOptions: string[];
}

function hostCgroupMounts(): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const [fsType, , superOptions] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({ mountPoint: before.split(' ')[4]!, fsType, superOptions: (superOptions ?? '').split(',') });
  }
  return mounts;
}

/** This process's cgroup per hierarchy: controllers ("" for v2) → path. */
function ownCgroups(): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, controllers, cgroupPath] = line.split(':');
    if (controllers !== undefined && cgroupPath !== undefined) result.set(controllers, cgroupPath);
  }
  return result;
}

function bindReadonlyAware(source: string, target: string, flags: number, context: string): void {
  fs.mkdirSync(target, { recursive: true });
  libc.mount(source, target, null, MS_BIND, null, context);
  const remount = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  libc.mount(null, target, null, MS_BIND | MS_REMOUNT | remount, null, `${context}: remount`);
}

export function mountCgroupFs(target: string, flags: number, context: string): void {
  const mounts = hostCgroupMounts();
  const own = ownCgroups();
  const unified = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === '/sys/fs/cgroup');
  if (unified) {
    bindReadonlyAware(path.join(unified.mountPoint, own.get('') ?? '/'), target, flags, context);
    return;
  }
  libc.mount('tmpfs', target, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=755', context);
  for (const mount of mounts) {
    if (!mount.mountPoint.startsWith('/sys/fs/cgroup/')) continue;
    const name = path.basename(mount.mountPoint);
    let cgroupPath: string | undefined;
    if (mount.fsType === 'cgroup2') {
      cgroupPath = own.get('');
    } else {
      for (const [controllers, p] of own) {
        const wanted = controllers.split(',');
        if (controllers !== '' && wanted.every((c) => mount.superOptions.includes(c))) cgroupPath = p;
      }
    }
    if (cgroupPath === undefined) continue;
    bindReadonlyAware(path.join(mount.mountPoint, cgroupPath), path.join(target, name), flags, `${context}: ${name}`);
  }
  if (flags & MS_RDONLY) {
    libc.mount(null, target, null, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 'mode=755', `${context}: remount`);
  }
}
