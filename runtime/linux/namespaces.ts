/**
 * Namespaces for a new container. Node is multithreaded, so the way in is the one DESIGN.md
 * describes: move the main thread (unshare or setns), spawn the init, move back; a user
 * namespace goes through the native stage instead (spawn-in-namespaces.ts).
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import { planUserNamespace, type IdMapping, type UserNamespacePlan } from './user-namespace.js';

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;
export const CLONE_FS = 0x00000200;

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

interface NamespaceKind {
  flag: number;
  /** Entry under /proc/self/ns/ that governs what a spawned child lands in. */
  procEntry: string;
}

export const namespaceKinds: Record<NamespaceType, NamespaceKind> = {
  pid: { flag: CLONE_NEWPID, procEntry: 'pid_for_children' },
  network: { flag: CLONE_NEWNET, procEntry: 'net' },
  mount: { flag: CLONE_NEWNS, procEntry: 'mnt' },
  ipc: { flag: CLONE_NEWIPC, procEntry: 'ipc' },
  uts: { flag: CLONE_NEWUTS, procEntry: 'uts' },
  user: { flag: CLONE_NEWUSER, procEntry: 'user' },
  cgroup: { flag: CLONE_NEWCGROUP, procEntry: 'cgroup' },
  time: { flag: CLONE_NEWTIME, procEntry: 'time_for_children' },
};

export interface NamespacePlan {
  /** Flags for one unshare() on the main thread before spawning the init. */
  unshareFlags: number;
  /** Namespaces to join by path (setns) before spawning the init. */
  joins: { type: NamespaceType; path: string }[];
  /** The cgroup namespace is made by the init itself, after it has joined its cgroup. */
  newCgroupNamespace: boolean;
  types: NamespaceType[];
  /** A new user namespace: the id maps the parent writes before the init goes on. */
  user?: UserNamespacePlan | undefined;
}

export interface NamespaceSpec {
  type: string;
  path?: string;
}

export interface IdMappingSpec {
  uidMappings?: readonly IdMapping[] | undefined;
  gidMappings?: readonly IdMapping[] | undefined;
}

/** Pure: config.linux.namespaces (and the id mappings) → what to unshare and what to join. */
export function planNamespaces(namespaces: readonly NamespaceSpec[] = [], mappings: IdMappingSpec = {}): NamespacePlan {
  const plan: NamespacePlan = { unshareFlags: 0, joins: [], newCgroupNamespace: false, types: [] };
  const seen = new Set<string>();
  namespaces.forEach((namespace, index) => {
    const where = `config.json: /linux/namespaces/${index}`;
    if (!(namespace.type in namespaceKinds)) {
      throw new TsruncError(`${where}/type: unknown namespace type "${namespace.type}"`);
    }
    const type = namespace.type as NamespaceType;
    if (seen.has(type)) throw new TsruncError(`${where}/type: namespace "${type}" is listed more than once`);
    seen.add(type);
    if (type === 'time') {
      // The kernel refuses a multithreaded process (Node) re-entry into its time namespace.
      throw new TsruncError(`${where}: time namespaces are not supported yet by tsrunc`);
    }
    plan.types.push(type);
    if (namespace.path) {
      plan.joins.push({ type, path: namespace.path });
    } else if (type === 'cgroup') {
      plan.newCgroupNamespace = true;
    } else {
      plan.unshareFlags |= namespaceKinds[type].flag;
    }
  });
  const user = plan.types.includes('user') ? (plan.joins.some((j) => j.type === 'user') ? 'joined' : 'new') : undefined;
  const userPlan = planUserNamespace(mappings, user);
  if (userPlan) plan.user = userPlan;
  return plan;
}

/** Checks that a namespace path names a namespace of the right type (an fd's link text). */
export function checkNamespacePath(type: NamespaceType, path: string): void {
  let link: string;
  try {
    link = fs.readlinkSync(path);
  } catch {
    // A bind-mounted namespace file is not a symlink: read the type through /proc/self/fd.
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (error) {
      throw new TsruncError(`namespace ${type}: cannot open ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } finally {
      fs.closeSync(fd);
    }
  }
  const expected = namespaceKinds[type].procEntry.replace(/_for_children$/, '');
  if (!link.startsWith(`${expected}:[`)) {
    throw new TsruncError(`namespace ${type}: ${path} is not a ${type} namespace (it is ${link})`);
  }
}
