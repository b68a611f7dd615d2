/**
 * Mount sources opened by `tsrunc create` on the host side, as host root, for an init that could
 * not reach them itself: in a user namespace the init is the mapped root, an unprivileged host
 * user, who cannot walk a 0700 bundle or bind-source directory (podman keeps its bind sources
 * under a 0700 userdata directory). Every bind source becomes a detached mount (open_tree with
 * OPEN_TREE_CLONE), its flags and propagation set with mount_setattr, handed to the stage as an
 * fd that it only moves into place (rootfs.ts). Idmapped mounts are made the same way, in every
 * container. The rootfs itself reaches the stage as its working directory (it enters it before
 * it makes its user namespace). Without a user namespace (or rootless) the stage mounts by path.
 */
import fs from 'node:fs';
import type { MountStep, RootfsPlan } from '../plan/types.js';
import { SyscallError, TsruncError } from '../errors.js';
import * as libc from './libc.js';
import { hasMountsBelow } from './mountinfo.js';
import {
  MS_BIND, MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_NOSYMFOLLOW, MS_PRIVATE, MS_RDONLY, MS_REC,
  MS_RELATIME, MS_SLAVE, MS_STRICTATIME,
} from './mount-options.js';
import { userNamespaceFd } from './user-namespace-idmap.js';

const MOUNT_ATTR_RDONLY = 0x1;
const MOUNT_ATTR_NOSUID = 0x2;
const MOUNT_ATTR_NODEV = 0x4;
const MOUNT_ATTR_NOEXEC = 0x8;
const MOUNT_ATTR__ATIME = 0x70;
const MOUNT_ATTR_RELATIME = 0x0;
const MOUNT_ATTR_NOATIME = 0x10;
const MOUNT_ATTR_STRICTATIME = 0x20;
const MOUNT_ATTR_NODIRATIME = 0x80;
const MOUNT_ATTR_IDMAP = 0x100000;
const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

interface MountAttr {
  set: number;
  clear: number;
  propagation: number;
  usernsFd: number;
}

/**
 * Pure: the mount_setattr(2) attributes for a bind mount's flags. They are only ever added to
 * what the source has (a bind's ro/nosuid/... are set, never cleared), as the container's root
 * could not clear them either; an atime mode replaces the source's.
 */
export function bindAttributes(flags: number): { set: number; clear: number } {
  let set = 0;
  let clear = 0;
  const pairs: [number, number][] = [
    [MS_RDONLY, MOUNT_ATTR_RDONLY], [MS_NOSUID, MOUNT_ATTR_NOSUID], [MS_NODEV, MOUNT_ATTR_NODEV],
    [MS_NOEXEC, MOUNT_ATTR_NOEXEC], [MS_NODIRATIME, MOUNT_ATTR_NODIRATIME], [MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW],
  ];
  for (const [flag, attr] of pairs) if ((flags & flag) !== 0) set |= attr;
  const atime = (flags & MS_NOATIME) !== 0 ? MOUNT_ATTR_NOATIME
    : (flags & MS_STRICTATIME) !== 0 ? MOUNT_ATTR_STRICTATIME
      : (flags & MS_RELATIME) !== 0 ? MOUNT_ATTR_RELATIME : undefined;
  if (atime !== undefined) {
    set |= atime;
    clear |= MOUNT_ATTR__ATIME;
  }
  return { set, clear };
}

/**
 * Pure: the propagation a detached bind gets before the init moves it in. A clone of a shared
 * source would share its peer group with the host, and mounts made on it inside the container
 * would show on the host: slave (host mounts still flow in, as the default rslave root), or
 * private when the root is (r)private. The mount's own propagation options come after, in the init.
 */
export function detachedPropagation(rootPropagation: number | undefined): number {
  return rootPropagation !== undefined && (rootPropagation & MS_PRIVATE) !== 0 ? MS_PRIVATE : MS_SLAVE;
}

function setAttributes(tree: number, recursive: boolean, attr: MountAttr, context: string): void {
  if (attr.set === 0 && attr.clear === 0 && attr.propagation === 0) return;
  // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
  const buffer = Buffer.alloc(32);
  buffer.writeBigUInt64LE(BigInt(attr.set), 0);
  buffer.writeBigUInt64LE(BigInt(attr.clear), 8);
  buffer.writeBigUInt64LE(BigInt(attr.propagation), 16);
  buffer.writeBigUInt64LE(BigInt(attr.usernsFd), 24);
  libc.mountSetattr(tree, recursive ? libc.AT_RECURSIVE : 0, buffer, context);
}

const NO_ATTR: MountAttr = { set: 0, clear: 0, propagation: 0, usernsFd: 0 };

/**
 * Whether the init, the mapped root of a user namespace, gets its mount sources from create: only
 * when create runs as host root. A rootless create may not open_tree, and its init, the same
 * user, reaches whatever that user can.
 */
export function initIsMappedRoot(userNamespace: boolean, chrootOnly: boolean, runtimeIsRoot: boolean): boolean {
  return userNamespace && !chrootOnly && runtimeIsRoot;
}

/**
 * Pure: whether tsrunc makes this mount as a detached tree for the stage to move in: idmapped
 * binds always; every bind when the init is a user namespace's mapped root, except an rbind
 * whose source has mounts below it. Mounts the kernel copies into the container's namespace are
 * locked to it; a detached tree moved in is not, so its root could unmount a submount and see
 * what it hides: such an rbind is made by path in the stage (locked, but it must be reachable).
 */
export function isDetached(step: MountStep, mappedRoot: boolean, hasSubmounts: (source: string) => boolean): boolean {
  if (step.idmap) return true;
  const bind = (step.flags & MS_BIND) !== 0;
  if (!mappedRoot || !bind) return false;
  return !((step.flags & MS_REC) !== 0 && hasSubmounts(step.source));
}

/**
 * Opens, in order, the detached mount of every step the plan marks detached, with its
 * propagation, idmapping and flags set. Returns them by mount index; the caller closes them
 * after the spawn.
 */
export function openDetachedMounts(rootfs: RootfsPlan): Map<number, number> {
  const trees = new Map<number, number>();
  const idmapNamespaces = new Map<string, number>();
  try {
    for (const step of rootfs.mounts) {
      if (!step.detached) continue;
      const context = `mount ${step.index} (${step.idmap ? 'idmapped ' : ''}bind ${step.source} on ${step.destination})`;
      const tree = openSource(step, context);
      trees.set(step.index, tree);
      setAttributes(tree, true, { ...NO_ATTR, propagation: detachedPropagation(rootfs.propagation) }, `${context}: propagation`);
      if (step.idmap) {
        const key = JSON.stringify([step.idmap.uidMappings, step.idmap.gidMappings]);
        let userns = idmapNamespaces.get(key);
        if (userns === undefined) {
          userns = userNamespaceFd(step.idmap.uidMappings, step.idmap.gidMappings);
          idmapNamespaces.set(key, userns);
        }
        setAttributes(tree, step.idmap.recursive, { ...NO_ATTR, set: MOUNT_ATTR_IDMAP, usernsFd: userns }, `${context}: idmapping it`);
      }
      // Like a bind's remount, the flags go on the top mount only.
      setAttributes(tree, false, { ...NO_ATTR, ...bindAttributes(step.flags) }, `${context}: flags`);
    }
    return trees;
  } catch (error) {
    for (const fd of trees.values()) libc.close(fd);
    throw error;
  } finally {
    for (const fd of idmapNamespaces.values()) libc.close(fd);
  }
}

/** Whether anything is mounted below `source` (not on it), in this mount namespace. */
export function hasSubmounts(source: string, mountinfo?: string): boolean {
  let real: string;
  try {
    real = fs.realpathSync(source);
  } catch {
    return false; // a missing source is reported by open_tree with its own message
  }
  return hasMountsBelow(real, mountinfo ?? fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

function openSource(step: MountStep, context: string): number {
  try {
    return libc.openTree(step.source, libc.OPEN_TREE_CLONE | ((step.flags & MS_REC) !== 0 ? libc.AT_RECURSIVE : 0), context);
  } catch (error) {
    if (error instanceof SyscallError && error.errnoName === 'ENOENT') {
      throw new TsruncError(`${context}: source ${step.source} does not exist`);
    }
    throw error;
  }
}
