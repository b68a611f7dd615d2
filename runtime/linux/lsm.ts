/**
 * Linux security modules: process.apparmorProfile, process.selinuxLabel, linux.mountLabel.
 *
 * - An AppArmor profile is applied when AppArmor is enabled on the host (as runc checks it:
 *   /sys/kernel/security/apparmor exists and /sys/module/apparmor/parameters/enabled says Y):
 *   "exec <profile>" goes to /proc/thread-self/attr/apparmor/exec (attr/exec on kernels
 *   before 5.8), written by the native stage just before execve, so the kernel switches profile at exec. Asking for a
 *   profile where AppArmor is not enabled fails `create`: running unconfined instead would
 *   silently drop a security setting.
 * - SELinux labels are applied only where SELinux is enabled (selinuxfs mounted on
 *   /sys/fs/selinux); elsewhere they are ignored, as a label means nothing to such a kernel.
 *   selinuxLabel is written to attr/exec before execve; mountLabel becomes a context= option
 *   on the container's filesystem mounts (rootfs.ts).
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import type { StageOp } from '../plan/ops.js';
import type { LsmPlan } from '../plan/types.js';

/** Which security modules the host has enabled. */
export interface LsmHost {
  apparmor: boolean;
  selinux: boolean;
}

const SELINUX_MAGIC = 0xf97cff8c;

export function apparmorEnabled(): boolean {
  if (!fs.existsSync('/sys/kernel/security/apparmor')) return false;
  try {
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

export function selinuxEnabled(): boolean {
  try {
    return fs.statfsSync('/sys/fs/selinux').type === SELINUX_MAGIC;
  } catch {
    return false;
  }
}

let detected: LsmHost | undefined;
/** The host's security modules, probed once per process. */
export function detectLsm(): LsmHost {
  detected ??= { apparmor: apparmorEnabled(), selinux: selinuxEnabled() };
  return detected;
}

/** Pure given `host`: what the init applies. Runs in the parent, at create. */
export function planLsm(
  apparmorProfile: string | undefined,
  selinuxLabel: string | undefined,
  host: LsmHost = detectLsm(),
  /** Where the profile came from, for errors (exec's --apparmor, a --process file). */
  origin = 'config.json: /process/apparmorProfile',
): LsmPlan {
  let profile: string | undefined;
  if (apparmorProfile) {
    if (!host.apparmor) {
      throw new TsruncError(
        `${origin}: AppArmor is not enabled on this host, so profile "${apparmorProfile}" cannot be applied`,
      );
    }
    if (/[\0\n]/.test(apparmorProfile)) {
      throw new TsruncError(`${origin}: a profile name cannot contain NUL or newline`);
    }
    profile = apparmorProfile;
  }
  return { apparmorProfile: profile, selinuxLabel: selinuxLabel && host.selinux ? selinuxLabel : undefined };
}

/** linux.mountLabel as the init uses it: kept only where SELinux is enabled. */
export function planMountLabel(mountLabel: string | undefined, host: LsmHost = detectLsm()): string | undefined {
  return mountLabel && host.selinux ? mountLabel : undefined;
}

/** A mount's data with SELinux's context="<label>" added (runc's label.FormatMountLabel). */
export function withMountLabel(data: string, mountLabel: string | undefined): string {
  if (!mountLabel) return data;
  const option = `context="${mountLabel}"`;
  return data === '' ? option : `${data},${option}`;
}


/**
 * The attribute file the exec'd program's label is written to: attr/<subdir>/<name> where the
 * kernel has it (5.8+ for AppArmor), else attr/<name>. The stage writes it in the container's
 * /proc, which shows the same kernel (a config without /proc cannot use these settings, as with runc).
 */
function attrFile(subdir: string | undefined, name: string): string {
  const base = fs.existsSync('/proc/thread-self') ? '/proc/thread-self/attr' : '/proc/self/attr';
  const modern = subdir === undefined ? undefined : `${base}/${subdir}/${name}`;
  return modern !== undefined && fs.existsSync(modern) ? modern : `${base}/${name}`;
}

/** The labels the exec'd program gets, written just before the exec. */
export function lsmOps(plan: LsmPlan): StageOp[] {
  const ops: StageOp[] = [];
  if (plan.apparmorProfile) {
    const path = attrFile('apparmor', 'exec');
    ops.push({ op: 'write-file', label: `applying security labels: AppArmor profile ${plan.apparmorProfile}: writing ${path}`, dir: null, path, data: `exec ${plan.apparmorProfile}`, flags: 0 });
  }
  if (plan.selinuxLabel) {
    const path = attrFile(undefined, 'exec');
    ops.push({ op: 'write-file', label: `applying security labels: SELinux label ${plan.selinuxLabel}: writing ${path}`, dir: null, path, data: plan.selinuxLabel, flags: 0 });
  }
  return ops;
}
