/**
 * User namespaces: linux.uidMappings/gidMappings checked (pure, before anything exists) and
 * written to /proc/PID/{uid_map,setgroups,gid_map} of the native stage once it made the namespace.
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import type { IdMapping, UserNamespacePlan } from '../plan/types.js';

export type { IdMapping, UserNamespacePlan };

/** The kernel's limit on lines in uid_map/gid_map (since Linux 4.15). */
const MAX_MAP_LINES = 340;
const ID_LIMIT = 2 ** 32;

type Kind = 'uid' | 'gid';

/** Ranges valid for the kernel; `path` is the list's JSON path (e.g. /linux/uidMappings). */
export function checkIdRanges(mappings: readonly IdMapping[], kind: Kind, path: string): void {
  const where = `config.json: ${path}`;
  if (mappings.length > MAX_MAP_LINES) {
    throw new TsruncError(`${where}: ${mappings.length} mappings; the kernel takes at most ${MAX_MAP_LINES}`);
  }
  mappings.forEach((mapping, index) => {
    if (mapping.size < 1) throw new TsruncError(`${where}/${index}/size: must be at least 1`);
    if (mapping.containerID + mapping.size > ID_LIMIT) {
      throw new TsruncError(`${where}/${index}: containerID + size goes past ${kind} ${ID_LIMIT - 1}`);
    }
    if (mapping.hostID + mapping.size > ID_LIMIT) {
      throw new TsruncError(`${where}/${index}: hostID + size goes past ${kind} ${ID_LIMIT - 1}`);
    }
    for (let other = 0; other < index; other++) {
      const earlier = mappings[other]!;
      const overlaps = (a: number, b: number) => a < b + earlier.size && b < a + mapping.size;
      if (overlaps(mapping.containerID, earlier.containerID)) {
        throw new TsruncError(`${where}/${index}: container ${kind}s overlap those of ${path}/${other}`);
      }
      if (overlaps(mapping.hostID, earlier.hostID)) {
        throw new TsruncError(`${where}/${index}: host ${kind}s overlap those of ${path}/${other}`);
      }
    }
  });
}

function checkMappings(mappings: readonly IdMapping[], kind: Kind): void {
  const where = `config.json: /linux/${kind}Mappings`;
  if (mappings.length === 0) {
    throw new TsruncError(`${where}: a new user namespace needs ${kind}Mappings (none given)`);
  }
  checkIdRanges(mappings, kind, `/linux/${kind}Mappings`);
  // The init becomes root inside before it execs (runc refuses such a config the same way).
  if (!mappings.some((m) => m.containerID === 0)) {
    throw new TsruncError(`${where}: container ${kind} 0 must be mapped (the container's init runs as root in its user namespace)`);
  }
}

/**
 * Pure: the mappings for a new user namespace. `userNamespace` says what the config has:
 * 'new', 'joined' (a path: that namespace has its maps already) or undefined.
 */
export function planUserNamespace(
  linux: { uidMappings?: readonly IdMapping[] | undefined; gidMappings?: readonly IdMapping[] | undefined },
  userNamespace: 'new' | 'joined' | undefined,
): UserNamespacePlan | undefined {
  const uid = linux.uidMappings ?? [];
  const gid = linux.gidMappings ?? [];
  if (userNamespace === undefined) {
    if (uid.length > 0) throw new TsruncError('config.json: /linux/uidMappings: mappings need a user namespace, and /linux/namespaces has none');
    if (gid.length > 0) throw new TsruncError('config.json: /linux/gidMappings: mappings need a user namespace, and /linux/namespaces has none');
    return undefined;
  }
  if (userNamespace === 'joined') return undefined;
  checkMappings(uid, 'uid');
  checkMappings(gid, 'gid');
  return { uidMappings: uid.map((m) => ({ ...m })), gidMappings: gid.map((m) => ({ ...m })) };
}

/** The text uid_map/gid_map take, written in one write(2) as the kernel requires. */
export function formatIdMap(mappings: readonly IdMapping[]): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function writeProcFile(pid: number, name: string, text: string): void {
  const file = `/proc/${pid}/${name}`;
  try {
    fs.writeFileSync(file, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new TsruncError(`writing ${name} of the init (${file}): ${code}: ${text.trim().replace(/\n/g, ', ')}`);
  }
}

/**
 * An unprivileged writer must set setgroups to "deny" before it may write gid_map (the kernel's
 * rule, user_namespaces(7)); root writes gid_map directly and the container keeps setgroups.
 */
export function writeIdMaps(pid: number, plan: UserNamespacePlan): void {
  writeProcFile(pid, 'uid_map', formatIdMap(plan.uidMappings));
  if (process.geteuid?.() !== 0) writeProcFile(pid, 'setgroups', 'deny');
  writeProcFile(pid, 'gid_map', formatIdMap(plan.gidMappings));
}
