/**
 * Linux security modules: process.apparmorProfile, process.selinuxLabel, linux.mountLabel.
 *
 * - An AppArmor profile is applied when AppArmor is enabled on the host (as runc checks it:
 *   /sys/kernel/security/apparmor exists and /sys/module/apparmor/parameters/enabled says Y):
 *   "exec <profile>" goes to /proc/thread-self/attr/apparmor/exec (attr/exec on kernels
 *   before 5.8) just before execve, so the kernel switches profile at exec. Asking for a
 *   profile where AppArmor is not enabled fails `create`: running unconfined instead would
 *   silently drop a security setting.
 * - SELinux labels are applied only where SELinux is enabled (selinuxfs mounted on
 *   /sys/fs/selinux); elsewhere they are ignored, as a label means nothing to such a kernel.
 *   selinuxLabel is written to attr/exec before execve; mountLabel becomes a context= option
 *   on the container's filesystem mounts (rootfs.ts).
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import * as libc from './libc.js';

export interface LsmPlan {
  apparmorProfile: string | undefined;
  selinuxLabel: string | undefined;
}

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


/** Writes `value` to one of this thread's LSM attributes (attr/<subdir>/<name> when there, else attr/<name>). */
function writeAttr(subdir: string | undefined, name: string, value: string, context: string): void {
  // The main thread calls execve, and /proc/thread-self is that thread. The container's /proc is
  // mounted by now (a config without one cannot use these settings, as with runc).
  const base = fs.existsSync('/proc/thread-self') ? '/proc/thread-self/attr' : '/proc/self/attr';
  const modern = subdir === undefined ? undefined : `${base}/${subdir}/${name}`;
  const file = modern !== undefined && fs.existsSync(modern) ? modern : `${base}/${name}`;
  const fd = libc.open(file, libc.O_WRONLY | libc.O_CLOEXEC, 0, `${context}: opening ${file}`);
  try {
    libc.writeAll(fd, Buffer.from(value), `${context}: writing ${file}`);
  } finally {
    libc.close(fd);
  }
}

/** Sets the labels the exec'd program gets; called just before execve. */
export function applyLsmBeforeExec(plan: LsmPlan): void {
  if (plan.apparmorProfile) {
    writeAttr('apparmor', 'exec', `exec ${plan.apparmorProfile}`, `AppArmor profile ${plan.apparmorProfile}`);
  }
  if (plan.selinuxLabel) {
    writeAttr(undefined, 'exec', plan.selinuxLabel, `SELinux label ${plan.selinuxLabel}`);
  }
}
