/** Pure: config.json's process object (or exec's) → the process part of a plan. */
import type { OciConfig, OciProcess, OciSeccomp } from '../spec/config.js';
import { planExecAttributes } from '../linux/sched.js';
import type { ProcessPlan, SeccompContainerInfo } from '../plan/types.js';
import { planCapabilities } from '../linux/capabilities.js';
import { planLsm } from '../linux/lsm.js';
import { planRlimits } from '../linux/rlimits.js';
import { planSeccomp } from '../linux/seccomp.js';
import { processEnvironment } from './process-env.js';

export interface ProcessPlanOptions {
  /** Added to the process's environment (LISTEN_FDS and LISTEN_PID for passed fds). */
  extraEnv?: readonly string[] | undefined;
  /** Where an AppArmor profile came from, for its errors (exec's --apparmor, a --process file). */
  apparmorOrigin?: string | undefined;
  /** The container's linux section: its personality and memory policy hold for exec'd processes too. */
  linux?: OciConfig['linux'];
}

export function planProcess(proc: OciProcess, seccomp: OciSeccomp | undefined, container: SeccompContainerInfo, options: ProcessPlanOptions = {}): ProcessPlan {
  const user = proc.user ?? { uid: 0, gid: 0 };
  return {
    args: [...proc.args],
    env: processEnvironment([...(proc.env ?? []), ...(options.extraEnv ?? [])]),
    cwd: proc.cwd,
    uid: user.uid,
    gid: user.gid,
    additionalGids: [...(user.additionalGids ?? [])],
    umask: user.umask,
    noNewPrivileges: proc.noNewPrivileges === true,
    oomScoreAdj: proc.oomScoreAdj,
    rlimits: planRlimits(proc.rlimits ?? []),
    capabilities: proc.capabilities ? planCapabilities(proc.capabilities) : undefined,
    // An undefined host or origin takes planLsm's defaults (this host, config.json's path).
    lsm: planLsm(proc.apparmorProfile, proc.selinuxLabel, undefined, options.apparmorOrigin),
    seccomp: planSeccomp(seccomp, container),
    attributes: planExecAttributes(proc, options.linux),
  };
}
