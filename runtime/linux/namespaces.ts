/**
 * Namespaces for a new container: which config.json asks to create and which to join. The
 * native stage makes and joins them (container/compile-create.ts says in what order).
 */
import { TsruncError } from '../errors.js';
import type { NamespacePlan, NamespaceType, TimeOffset } from '../plan/types.js';
import { planUserNamespace, type IdMapping } from './user-namespace.js';

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;
export const CLONE_FS = 0x00000200;

interface NamespaceKind {
  flag: number;
  /** Its entry under /proc/PID/ns/. */
  procEntry: string;
}

export const namespaceKinds: Record<NamespaceType, NamespaceKind> = {
  pid: { flag: CLONE_NEWPID, procEntry: 'pid' },
  network: { flag: CLONE_NEWNET, procEntry: 'net' },
  mount: { flag: CLONE_NEWNS, procEntry: 'mnt' },
  ipc: { flag: CLONE_NEWIPC, procEntry: 'ipc' },
  uts: { flag: CLONE_NEWUTS, procEntry: 'uts' },
  user: { flag: CLONE_NEWUSER, procEntry: 'user' },
  cgroup: { flag: CLONE_NEWCGROUP, procEntry: 'cgroup' },
  time: { flag: CLONE_NEWTIME, procEntry: 'time' },
};

export interface NamespaceSpec {
  type: string;
  path?: string;
}

export interface IdMappingSpec {
  uidMappings?: readonly IdMapping[] | undefined;
  gidMappings?: readonly IdMapping[] | undefined;
  /** linux.timeOffsets: clock name → offset. */
  timeOffsets?: Record<string, { secs?: number | undefined; nanosecs?: number | undefined }> | undefined;
}

const TIME_CLOCKS: readonly TimeOffset['clock'][] = ['monotonic', 'boottime'];

/** Pure: linux.timeOffsets for a new time namespace (config-linux.md, "Offset for Time Namespace"). */
function planTimeOffsets(offsets: NonNullable<IdMappingSpec['timeOffsets']>, newTimeNamespace: boolean): TimeOffset[] | undefined {
  const clocks = Object.keys(offsets);
  if (clocks.length === 0) return undefined;
  if (!newTimeNamespace) {
    throw new TsruncError('config.json: /linux/timeOffsets: offsets need a new time namespace in /linux/namespaces (one without a path)');
  }
  return clocks.map((clock) => {
    const where = `config.json: /linux/timeOffsets/${clock}`;
    if (!TIME_CLOCKS.includes(clock as TimeOffset['clock'])) {
      throw new TsruncError(`${where}: unknown clock "${clock}" (a time namespace offsets ${TIME_CLOCKS.join(' and ')})`);
    }
    const { secs = 0, nanosecs = 0 } = offsets[clock]!;
    if (nanosecs >= 1e9) throw new TsruncError(`${where}/nanosecs: must be below 1000000000`);
    return { clock: clock as TimeOffset['clock'], secs: BigInt(Math.trunc(secs)).toString(), nanosecs };
  });
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
  const timeOffsets = planTimeOffsets(mappings.timeOffsets ?? {}, (plan.unshareFlags & CLONE_NEWTIME) !== 0);
  if (timeOffsets) plan.timeOffsets = timeOffsets;
  return plan;
}

