/**
 * linux.cgroupsPath → one directory per hierarchy (pure, given the layout and our own cgroups).
 *
 * The runtime-spec ("Cgroups path"): an absolute path is taken relative to the cgroups mount
 * point; a relative path MAY be interpreted relative to a runtime-determined location. As runc
 * does, a relative path is relative to the runtime's own cgroup in each v1 hierarchy, and on
 * pure v2 relative to the PARENT of the runtime's own cgroup: a v2 cgroup that holds processes
 * (ours does: we are in it) cannot enable controllers for its children ("no internal
 * processes"), so runc goes one level up, and so do we.
 *
 * Default when linux.cgroupsPath is absent: the relative path "<id>", as runc uses (runc's
 * cgroupfs driver sets the cgroup name to the container id and no parent, which resolves
 * relative to its own cgroup). Container ids are unique only within one --root, while cgroups
 * are host-wide, and delete and kill --all act on every process in the cgroup: so with a
 * --root other than the default /run/tsrunc the name is "<id>-<8 hex digits: a hash of the
 * root's absolute path>", and two roots that reuse an id do not share a cgroup.
 */
import path from 'node:path';
import { TsruncError } from '../../errors.js';
import type { CgroupPaths } from './manager.js';
import type { CgroupLayout, UnifiedMount } from './layout.js';

export const DEFAULT_STATE_ROOT = '/run/tsrunc';

/** The cgroupsPath used when config.json has none (see above). */
export function defaultCgroupsPath(id: string, stateRoot: string = DEFAULT_STATE_ROOT): string {
  const root = path.resolve(stateRoot);
  if (root === DEFAULT_STATE_ROOT) return id;
  return `${id}-${fnv1a32(root)}`;
}

/**
 * 32-bit FNV-1a of the UTF-8 bytes, as 8 hex digits: enough to tell roots apart in a name, and
 * no node:crypto to load (~6 ms) for every create and delete under a --root of its own.
 */
function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

/**
 * runc's LexicallyCleanPath: an absolute path is cleaned; a relative one is cleaned as if it
 * hung from "/", so "../../x" cannot climb out of where relative paths start. "" stays "".
 */
export function cleanCgroupsPath(value: string): string {
  if (value === '') return '';
  if (value.startsWith('/')) return path.posix.normalize(value).replace(/(.)\/+$/, '$1');
  const rooted = path.posix.normalize(`/${value}`).replace(/(.)\/+$/, '$1');
  return rooted === '/' ? '.' : rooted.slice(1);
}

/** `cgroup` (a path in the hierarchy) as a directory under a mount that shows `mountRoot` at `mountPoint`. */
function inMount(mountPoint: string, mountRoot: string, cgroup: string): string {
  const relative = path.posix.relative(mountRoot, cgroup);
  // Our cgroup outside what the mount shows (a cgroup namespace, a partial bind): start at the mount.
  const inside = relative.startsWith('..') ? '' : relative;
  return path.posix.join(mountPoint, inside);
}

function checkCleaned(cleaned: string, original: string): void {
  if (cleaned === '/' || cleaned === '.') {
    const what = cleaned === '/' ? 'the root cgroup' : "the runtime's own cgroup";
    throw new TsruncError(`config.json: /linux/cgroupsPath: "${original}" names ${what}; a container needs a cgroup of its own`);
  }
}

/** The directory of `cgroupsPath` in one hierarchy, `own` being our cgroup there (v1 rule). */
function resolveIn(mountPoint: string, mountRoot: string, own: string | undefined, cleaned: string): string {
  if (cleaned.startsWith('/')) return path.posix.join(mountPoint, cleaned);
  return path.posix.join(inMount(mountPoint, mountRoot, own ?? mountRoot), cleaned);
}

/**
 * Every hierarchy's directory for `cgroupsPath` on a v1 (or hybrid) host: one entry per
 * controller or named hierarchy (runc's keys: "cpu", "memory", "name=systemd", ...), plus ""
 * for the hybrid cgroup2 mount when there is one. `own` is parseProcCgroup of our own cgroups.
 */
export function resolveV1Paths(layout: CgroupLayout, own: Map<string, string>, cgroupsPath: string): CgroupPaths {
  const cleaned = cleanCgroupsPath(cgroupsPath);
  checkCleaned(cleaned, cgroupsPath);
  const paths: CgroupPaths = {};
  for (const hierarchy of layout.hierarchies) {
    for (const controller of hierarchy.controllers) {
      paths[controller] = resolveIn(hierarchy.mountPoint, hierarchy.root, own.get(controller), cleaned);
    }
  }
  if (layout.unified) {
    paths[''] = resolveIn(layout.unified.mountPoint, layout.unified.root, own.get(''), cleaned);
  }
  return paths;
}

/** The one directory for `cgroupsPath` on a pure v2 host (relative: from the parent of `ownCgroup`). */
export function resolveV2Path(mount: UnifiedMount, ownCgroup: string | undefined, cgroupsPath: string): string {
  const cleaned = cleanCgroupsPath(cgroupsPath);
  checkCleaned(cleaned, cgroupsPath);
  if (cleaned.startsWith('/')) return path.posix.join(mount.mountPoint, cleaned);
  const parent = path.posix.dirname(ownCgroup ?? mount.root);
  return path.posix.join(inMount(mount.mountPoint, mount.root, parent), cleaned);
}

/**
 * Why saved cgroup paths cannot be the ones tsrunc made for `cgroupsPath` (undefined when they
 * can): resolveV1Paths and resolveV2Path only ever give absolute, normalized paths that end
 * with the cleaned cgroupsPath. state.json may be damaged or forged; such a path is never used.
 */
export function cgroupPathsProblem(paths: CgroupPaths, cgroupsPath: string): string | undefined {
  const cleaned = cleanCgroupsPath(cgroupsPath);
  if (cleaned === '' || cleaned === '/' || cleaned === '.') return `"${cgroupsPath}" names no cgroup of a container's own`;
  const suffix = `/${cleaned.replace(/^\//, '')}`;
  for (const [hierarchy, dir] of Object.entries(paths)) {
    const where = hierarchy === '' ? 'the unified hierarchy' : `"${hierarchy}"`;
    if (typeof dir !== 'string' || !dir.startsWith('/') || path.posix.normalize(dir) !== dir) {
      return `${where}: ${JSON.stringify(dir)} is not a normalized absolute path`;
    }
    if (!dir.endsWith(suffix) || dir === suffix) return `${where}: ${dir} is not a cgroup for ${cgroupsPath}`;
  }
  return undefined;
}
