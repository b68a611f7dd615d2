/**
 * linux.cgroupsPath under the systemd cgroup driver (pure): "slice:prefix:name" names the
 * transient scope "prefix-name.scope" in the slice "slice", whose cgroup is the slice's
 * expanded path plus the scope ("a-b.slice" lives in /a.slice/a-b.slice). These are runc's
 * rules (libcontainer/specconv and cgroups/systemd), so managers that pass runc a systemd
 * cgroupsPath get the same unit and the same cgroup from tsrunc.
 */
import path from 'node:path';
import { TsruncError } from '../../errors.js';

/** The slice a scope goes into when cgroupsPath leaves it empty (runc's, for root). */
export const DEFAULT_SLICE = 'system.slice';
/** The prefix when config.json has no cgroupsPath: runc writes "runc-<id>.scope"; ours says who made it. */
export const DEFAULT_SCOPE_PREFIX = 'tsrunc';

export interface SystemdUnitName {
  /** The slice unit the scope goes into ("system.slice", "kubepods-besteffort.slice"). */
  slice: string;
  /** The scope unit ("cri-containerd-<id>.scope"). */
  unit: string;
  /** The scope's cgroup below the cgroup2 mount ("/kubepods.slice/kubepods-besteffort.slice/cri-containerd-<id>.scope"). */
  cgroup: string;
}

const WHERE = 'config.json: /linux/cgroupsPath';

/** Characters systemd accepts in a unit name (unit-name.c VALID_CHARS, "@" aside). */
const UNIT_NAME_CHARS = /^[A-Za-z0-9:_.\\-]+$/;
const UNIT_NAME_MAX = 255;

/**
 * runc's ExpandSlice: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice", "-.slice" → "/".
 * Returns undefined for a name that is not a slice.
 */
export function expandSlice(slice: string): string | undefined {
  if (!slice.endsWith('.slice') || slice.includes('/')) return undefined;
  const name = slice.slice(0, -'.slice'.length);
  if (name === '-') return '/';
  let expanded = '';
  let prefix = '';
  for (const component of name.split('-')) {
    if (component === '') return undefined;
    expanded += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return expanded;
}

/**
 * The scope for a container. `cgroupsPath` is config.json's (empty or absent: the default
 * scope `defaultName` in system.slice); otherwise exactly three colon-separated parts, as runc
 * requires. A name ending in ".slice" (runc would make a slice, which holds no processes of
 * its own) is refused: a container needs a scope.
 */
export function systemdUnitFor(cgroupsPath: string | undefined, defaultName: string): SystemdUnitName {
  let slice = DEFAULT_SLICE;
  let prefix = DEFAULT_SCOPE_PREFIX;
  let name = defaultName;
  if (cgroupsPath) {
    const parts = cgroupsPath.split(':');
    if (parts.length !== 3) {
      throw new TsruncError(`${WHERE}: "${cgroupsPath}": the systemd cgroup driver expects "slice:prefix:name" (for example "system.slice:tsrunc:<id>")`);
    }
    [slice, prefix, name] = parts as [string, string, string];
    if (slice === '') slice = DEFAULT_SLICE;
  }
  const expanded = expandSlice(slice);
  if (expanded === undefined) throw new TsruncError(`${WHERE}: "${slice}" is not a slice name (it must end in ".slice", with no "/" and no empty "-" part)`);
  if (name === '') throw new TsruncError(`${WHERE}: "${cgroupsPath}": the name part is empty`);
  if (name.endsWith('.slice')) throw new TsruncError(`${WHERE}: "${name}" is a slice; a container needs a scope, so give it a name that does not end in ".slice"`);
  const unit = prefix === '' ? `${name}.scope` : `${prefix}-${name}.scope`;
  if (!UNIT_NAME_CHARS.test(unit) || unit.length > UNIT_NAME_MAX) {
    throw new TsruncError(`${WHERE}: "${unit}" is not a valid systemd unit name (letters, digits and ":_.\\-" only, at most ${UNIT_NAME_MAX} characters)`);
  }
  return { slice, unit, cgroup: path.posix.join(expanded, unit) };
}
