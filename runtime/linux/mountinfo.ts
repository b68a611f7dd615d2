/** Reading /proc/PID/mountinfo (proc(5)): mount points, and what is mounted where. */

/** mountinfo escapes space, tab, newline and backslash as octal. */
export function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function mountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map(decodeMountPath);
}

/** The mount point that holds `dir`. */
export function mountPointOf(dir: string, mountinfo: string): string {
  let best = '/';
  for (const point of mountPoints(mountinfo)) {
    if ((dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length > best.length) {
      best = point;
    }
  }
  return best;
}

/** Whether anything is mounted below `dir` (not on it); `dir` with its symlinks resolved. */
export function hasMountsBelow(dir: string, mountinfo: string): boolean {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  return mountPoints(mountinfo).some((point) => point !== dir && point.startsWith(prefix));
}

export interface MountInfoEntry {
  /** The filesystem path mounted (mountinfo's "root": "/" for the whole filesystem). */
  root: string;
  mountPoint: string;
  fstype: string;
}

/** Every mount mountinfo lists, in its order (a parent before what is mounted below it). */
export function mountEntries(mountinfo: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const root = fields[3];
    const mountPoint = fields[4];
    const fstype = separator < 0 ? undefined : fields[separator + 1];
    if (root === undefined || mountPoint === undefined || fstype === undefined) continue;
    entries.push({ root: decodeMountPath(root), mountPoint: decodeMountPath(mountPoint), fstype });
  }
  return entries;
}
