/**
 * The container's init: a fresh Node process that `tsrunc create` spawned inside the new
 * namespaces (it is PID 1 there). It prepares everything from the plan, reports ready,
 * waits for `tsrunc start` on exec.fifo, and execve()s the user program, which replaces it.
 * It never touches process.stdout/console: see DESIGN.md on O_NONBLOCK and shared stdio.
 */
import fs from 'node:fs';
import type { InitPlan } from './plan.js';
import { INIT_CHANNEL_FD, readLineSync, sendSync } from './channel.js';
import { enterCwd, resolveExecutable, switchUser, withHome } from './process.js';
import { errorLine } from '../errors.js';
import * as libc from '../linux/libc.js';
import { CLONE_NEWCGROUP } from '../linux/namespaces.js';
import { prepareRootfs } from '../linux/rootfs.js';
import { applyRlimits } from '../linux/rlimits.js';
import { applyCapabilitySets, dropBoundingSet, lastCapability } from '../linux/capabilities.js';
import { applySysctl } from '../linux/sysctl.js';
import { applySeccomp } from '../linux/seccomp.js';
import { applyLsmBeforeExec } from '../linux/lsm.js';
import type { ProcessPlan } from './plan.js';

const PR_SET_NO_NEW_PRIVS = 38;
const DEFAULT_UMASK = 0o022;

let step = 'reading the plan';

interface Prepared {
  stateDirFd: number;
  /** Undefined when the config has no process: `start` refuses such a container. */
  exec: { executable: string; env: string[]; process: ProcessPlan } | undefined;
}

function prepare(plan: InitPlan): Prepared {
  step = 'opening the state directory';
  // Kept across pivot_root so exec.fifo stays reachable; close-on-exec, so it never leaks.
  const stateDirFd = libc.open(plan.stateDir, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, `state dir ${plan.stateDir}`);
  const proc = plan.process;
  if (proc?.oomScoreAdj !== undefined) {
    step = 'setting oomScoreAdj';
    fs.writeFileSync('/proc/self/oom_score_adj', `${proc.oomScoreAdj}`);
  }
  // Known before pivot_root, because /proc may not be mounted in the container.
  const lastCap = lastCapability();
  step = 'setting sysctls';
  applySysctl(plan.sysctl); // through the host's /proc, which shows this process's namespaces

  step = 'preparing the rootfs';
  prepareRootfs(plan.rootfs);
  if (plan.newCgroupNamespace) {
    // After the rootfs: its cgroup mounts bind this process's cgroups as the host names them,
    // which /proc/self/cgroup stops showing once the namespace exists. The parent has already
    // moved this process into the container's cgroup, which becomes the namespace's root.
    step = 'creating the cgroup namespace';
    libc.unshare(CLONE_NEWCGROUP, 'unshare(cgroup)');
  }
  if (plan.hostname !== undefined) {
    step = 'setting the hostname';
    libc.sethostname(plan.hostname, `hostname ${plan.hostname}`);
  }
  if (plan.domainname !== undefined) {
    step = 'setting the domainname';
    libc.setdomainname(plan.domainname, `domainname ${plan.domainname}`);
  }

  if (!proc) return { stateDirFd, exec: undefined };
  step = 'setting rlimits';
  applyRlimits(proc.rlimits, 'early');
  step = 'entering cwd';
  enterCwd(proc.cwd);
  step = 'changing user';
  if (proc.capabilities) dropBoundingSet(proc.capabilities, lastCap);
  switchUser(proc);
  if (proc.capabilities) {
    step = 'setting capabilities';
    applyCapabilitySets(proc.capabilities, lastCap);
  }
  if (proc.noNewPrivileges) {
    step = 'setting noNewPrivileges';
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 'prctl(PR_SET_NO_NEW_PRIVS)');
  }
  libc.umask(proc.umask ?? DEFAULT_UMASK);
  step = 'looking up the executable';
  const env = withHome(proc.env, proc.uid);
  const executable = resolveExecutable(proc.args[0]!, env, proc.cwd);
  return { stateDirFd, exec: { executable, env, process: proc } };
}

/** Blocks until `tsrunc start` opens exec.fifo for reading, then tells it we got there. */
function waitForStart(stateDirFd: number): void {
  step = 'waiting for start';
  const fifo = libc.openat(stateDirFd, 'exec.fifo', libc.O_WRONLY | libc.O_CLOEXEC, 0, 'opening exec.fifo');
  libc.writeAll(fifo, Buffer.from('0'), 'writing exec.fifo');
  libc.close(fifo);
  libc.close(stateDirFd);
}

function execContainerProcess(executable: string, env: string[], proc: ProcessPlan): never {
  step = 'setting memory rlimits';
  applyRlimits(proc.rlimits, 'before-exec');
  step = 'preparing stdio';
  for (const fd of [0, 1, 2]) {
    if (libc.isOpen(fd)) libc.makeInheritable(fd, `stdio fd ${fd}`);
  }
  libc.cloexecFrom(3, 'marking inherited fds close-on-exec');
  step = 'applying security labels';
  applyLsmBeforeExec(proc.lsm);
  if (proc.seccomp !== undefined) {
    step = 'loading the seccomp filter';
    applySeccomp(proc.seccomp);
  }
  step = 'executing the container process';
  return libc.execve(executable, proc.args, env, `exec ${executable}`);
}

function main(): void {
  let plan: InitPlan;
  try {
    plan = JSON.parse(readLineSync(INIT_CHANNEL_FD)) as InitPlan;
  } catch (error) {
    process.exit(1); // the parent is gone or sent nothing: nobody to report to
  }
  try {
    const { stateDirFd, exec } = prepare(plan);
    sendSync(INIT_CHANNEL_FD, { type: 'ready' });
    waitForStart(stateDirFd);
    if (!exec) throw new Error('config.json has no process to start');
    execContainerProcess(exec.executable, exec.env, exec.process);
  } catch (error) {
    const message = `${step}: ${errorLine(error)}`;
    try {
      sendSync(INIT_CHANNEL_FD, { type: 'error', message });
    } catch {
      // After ready the parent may be gone (create returned): stderr is all that is left.
      fs.writeSync(2, `tsrunc init: ${message}\n`);
    }
    process.exit(1);
  }
}

main();
