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
