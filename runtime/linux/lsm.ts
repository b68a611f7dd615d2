/**
 * Linux security modules: process.apparmorProfile, process.selinuxLabel, linux.mountLabel.
 * Placeholder: an AppArmor profile is refused; SELinux labels are ignored (not enabled here).
 */
import { TsruncError } from '../errors.js';

export interface LsmPlan {
  apparmorProfile: string | undefined;
  selinuxLabel: string | undefined;
}

export function planLsm(apparmorProfile: string | undefined, selinuxLabel: string | undefined): LsmPlan {
  if (apparmorProfile) {
    throw new TsruncError('config.json: /process/apparmorProfile: AppArmor profiles are not supported yet by tsrunc');
  }
  return { apparmorProfile: undefined, selinuxLabel };
}

/** Sets the labels the exec'd program gets; called just before execve. */
export function applyLsmBeforeExec(plan: LsmPlan): void {
  void plan;
}
