/**
 * Where the host's cgroup hierarchies are. Pure cgroup v2 when a cgroup2 filesystem is mounted
 * on /sys/fs/cgroup itself; otherwise v1, which includes the "hybrid" layout (v1 hierarchies
 * under /sys/fs/cgroup/<name> plus a cgroup2 at /sys/fs/cgroup/unified).
 *
 * Everything is read from /proc/self/mountinfo and /proc/self/cgroup; the parsers are pure so
 * the unit tests can feed them other machines' files.
 */
import fs from 'node:fs';

/** One mounted v1 hierarchy. `root` is the cgroup that the mount shows at `mountPoint`. */
export interface V1Hierarchy {
  mountPoint: string;
  root: string;
  /** Its controllers ("cpu", "cpuacct") or its name ("name=systemd"): the keys of CgroupPaths. */
  controllers: string[];
}

export interface UnifiedMount {
  mountPoint: string;
  root: string;
}

export interface CgroupLayout {
  /** 2 only for pure v2; the hybrid layout is 1 (its v1 hierarchies carry the controllers). */
  version: 1 | 2;
  hierarchies: V1Hierarchy[];
  /** The cgroup2 mount: the whole tree on v2, /sys/fs/cgroup/unified on hybrid. */
  unified: UnifiedMount | undefined;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

interface CgroupMountEntry {
  device: string;
  root: string;
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  superOptions: string[];
}

function cgroupMounts(mountinfo: string): CgroupMountEntry[] {
  const entries: CgroupMountEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const [fsType, , superOptions] = line.slice(separator + 3).split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    entries.push({
      device: before[2] ?? '',
      root: unescapeMountField(before[3] ?? '/'),
      mountPoint: unescapeMountField(before[4] ?? ''),
      fsType,
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return entries;
}

function underCgroupRoot(mountPoint: string): boolean {
  return mountPoint === CGROUP_ROOT || mountPoint.startsWith(`${CGROUP_ROOT}/`);
}

/**
 * The same hierarchy can be mounted more than once (a test's private cgroup2 mount, a bind in
 * a container): one mount per superblock is kept, the one under /sys/fs/cgroup if any.
 */
function onePerHierarchy(entries: CgroupMountEntry[]): CgroupMountEntry[] {
  const chosen = new Map<string, CgroupMountEntry>();
  for (const entry of entries) {
    const seen = chosen.get(entry.device);
    if (!seen || (!underCgroupRoot(seen.mountPoint) && underCgroupRoot(entry.mountPoint))) chosen.set(entry.device, entry);
  }
  return [...chosen.values()];
}

const V1_OPTIONS_THAT_ARE_NOT_CONTROLLERS = new Set([
  'rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'favordynmods', 'nofavordynmods', '',
]);

/** Pure: the layout described by a /proc/self/mountinfo text. */
export function parseMountinfo(mountinfo: string): CgroupLayout {
  const entries = onePerHierarchy(cgroupMounts(mountinfo));
  const v2 = entries.find((e) => e.fsType === 'cgroup2' && e.mountPoint === CGROUP_ROOT);
  if (v2) return { version: 2, hierarchies: [], unified: { mountPoint: v2.mountPoint, root: v2.root } };
  const hierarchies: V1Hierarchy[] = [];
  let unified: UnifiedMount | undefined;
  for (const entry of entries) {
    if (entry.fsType === 'cgroup2') {
      if (!unified || underCgroupRoot(entry.mountPoint)) unified = { mountPoint: entry.mountPoint, root: entry.root };
      continue;
    }
    const controllers = entry.superOptions.filter((o) => !V1_OPTIONS_THAT_ARE_NOT_CONTROLLERS.has(o) && !o.startsWith('release_agent='));
    if (controllers.length === 0) continue;
    hierarchies.push({ mountPoint: entry.mountPoint, root: entry.root, controllers });
  }
  return { version: 1, hierarchies, unified };
}

/**
 * Pure: /proc/<pid>/cgroup as controller → cgroup path. A line "4:cpu,cpuacct:/x" gives both
 * "cpu" and "cpuacct"; the v2 line "0::/x" gives "".
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const cgroupPath = line.slice(second + 1);
    if (controllers === '') result.set('', cgroupPath);
    else for (const controller of controllers.split(',')) result.set(controller, cgroupPath);
  }
  return result;
}

let cached: CgroupLayout | undefined;

/** This host's layout (read once per process). */
export function detectLayout(): CgroupLayout {
  cached ??= parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  return cached;
}

/** The cgroups of this process (the runtime), per controller. */
export function ownCgroups(): Map<string, string> {
  return parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8'));
}
