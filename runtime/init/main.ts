/**
 * The container's init: a fresh Node process that `tsrunc create` spawned inside the new
 * namespaces (it is PID 1 there). It prepares everything from the plan, reports ready,
 * waits for `tsrunc start` on exec.fifo, and execve()s the user program, which replaces it.
 * It never touches process.stdout/console: see DESIGN.md on O_NONBLOCK and shared stdio.
 */
import fs from 'node:fs';
import type { InitPlan } from './plan.js';
import { INIT_CHANNEL_FD, readLineSync, sendSync, type ParentMessage } from './channel.js';
import { runHooks } from '../container/hooks.js';
import { enterCwd, resolveExecutable, switchUser, withHome } from './process.js';
import { errorLine } from '../errors.js';
import * as libc from '../linux/libc.js';
import { CLONE_NEWCGROUP } from '../linux/namespaces.js';
import { prepareRootfs } from '../linux/rootfs.js';
import { applyRlimits } from '../linux/rlimits.js';
import { applyCapabilitySets, dropBoundingSet, lastCapability } from '../linux/capabilities.js';
import { applySysctl } from '../linux/sysctl.js';
import { loadSeccomp, prepareSeccomp, type PreparedSeccomp } from '../linux/seccomp.js';
import { applyLsmBeforeExec } from '../linux/lsm.js';
import { joinSessionKeyring } from '../linux/keyring.js';
import { attachConsole, connectConsoleSocket, setupConsole } from '../linux/console.js';
import { CLONE_FS, CLONE_NEWNS } from '../linux/namespaces.js';
import type { ExecPlan } from './plan.js';
import type { InitHooks, ProcessPlan } from './plan.js';

const PR_SET_NO_NEW_PRIVS = 38;
const DEFAULT_UMASK = 0o022;

let step = 'reading the plan';
/** exec.fifo once `start` opened it: a failure after that is written there for start to report. */
let startFifo: number | undefined;
/** process.terminal: the pty slave, made the program's stdio and controlling tty before execve. */
let consoleSlave: number | undefined;
/** --preserve-fds (+ LISTEN_FDS): how many fds, at 4.. in the init, the program gets at 3.. */
let preservedFds = 0;
/** False once preserved fds were moved over the channel (fd 3): errors then go to stderr. */
let channelOpen = true;
/** linux.seccomp, built before pivot_root (the host's libseccomp and listener socket), loaded right before execve. */
let seccomp: PreparedSeccomp | undefined;

interface Prepared {
  stateDirFd: number;
  /** Undefined when the config has no process: `start` refuses such a container. */
  exec: { executable: string; env: string[]; process: ProcessPlan } | undefined;
}

function prepare(plan: InitPlan): Prepared {
  step = 'opening the state directory';
  // Kept across pivot_root so exec.fifo stays reachable; close-on-exec, so it never leaks.
  const stateDirFd = plan.stateDirFd ?? libc.open(plan.stateDir, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, `state dir ${plan.stateDir}`);
  if (plan.sessionKeyring) {
    step = 'joining the session keyring';
    joinSessionKeyring(plan.sessionKeyring.name, plan.sessionKeyring.inUserNamespace);
  }
  const proc = plan.process;
  if (proc?.oomScoreAdj !== undefined) {
    step = 'setting oomScoreAdj';
    fs.writeFileSync('/proc/self/oom_score_adj', `${proc.oomScoreAdj}`);
  }
  // Known before pivot_root, because /proc may not be mounted in the container.
  const lastCap = lastCapability();
  prepareSeccompEarly(proc, lastCap);
  step = 'setting sysctls';
  applySysctl(plan.sysctl); // through the host's /proc, which shows this process's namespaces

  // A host path: connected while the host's root is still ours.
  if (plan.console) step = 'setting up the terminal';
  const consoleSocket = plan.console && (plan.consoleSocketFd ?? connectConsoleSocket(plan.console));
  step = 'preparing the rootfs';
  prepareRootfs(plan.rootfs, plan.hooks && (() => beforePivot(plan.hooks!)));
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

  if (plan.console && consoleSocket !== undefined) {
    step = 'setting up the terminal';
    consoleSlave = setupConsole(plan.console, consoleSocket, !plan.rootfs.chrootOnly);
  }
  if (!proc) return { stateDirFd, exec: undefined };
  return { stateDirFd, exec: prepareProcess(proc, lastCap) };
}

/** The process part, shared by a container's init and `tsrunc exec`: runs in the container's root. */
function prepareProcess(proc: ProcessPlan, lastCap: number): { executable: string; env: string[]; process: ProcessPlan } {
  step = 'setting rlimits';
  applyRlimits(proc.rlimits, 'early');
  step = 'entering cwd';
  enterCwd(proc.cwd);
  // Without noNewPrivileges, seccomp.ts may keep CAP_SYS_ADMIN until its filter is loaded.
  const capabilities = seccomp ? seccomp.capabilities : proc.capabilities;
  step = 'changing user';
  if (capabilities) dropBoundingSet(capabilities, lastCap);
  switchUser(proc);
  if (capabilities) {
    step = 'setting capabilities';
    applyCapabilitySets(capabilities, lastCap);
  }
  if (proc.noNewPrivileges) {
    step = 'setting noNewPrivileges';
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 'prctl(PR_SET_NO_NEW_PRIVS)');
  }
  libc.umask(proc.umask ?? DEFAULT_UMASK);
  step = 'looking up the executable';
  const env = withHome(proc.env, proc.uid);
  const executable = resolveExecutable(proc.args[0]!, env, proc.cwd);
  return { executable, env, process: proc };
}

/**
 * `tsrunc exec`: spawned in the container's namespaces but its mount namespace (node itself had
 * to be exec'd from the host's root). Joins that now, on the main thread, whose root becomes
 * the container's pivoted root; modules are all loaded already.
 */
function prepareExec(plan: ExecPlan): { executable: string; env: string[]; process: ProcessPlan } {
  const proc = plan.process;
  if (proc.oomScoreAdj !== undefined) {
    step = 'setting oomScoreAdj';
    fs.writeFileSync('/proc/self/oom_score_adj', `${proc.oomScoreAdj}`);
  }
  const lastCap = lastCapability();
  prepareSeccompEarly(proc, lastCap);
  if (plan.console) step = 'setting up the terminal';
  const consoleSocket = plan.console && (plan.consoleSocketFd ?? connectConsoleSocket(plan.console));
  if (plan.mountNamespace !== undefined) {
    step = 'joining the mount namespace';
    const fd = libc.open(plan.mountNamespace, libc.O_RDONLY | libc.O_CLOEXEC, 0, plan.mountNamespace);
    libc.unshare(CLONE_FS, 'unshare(CLONE_FS)');
    libc.setns(fd, CLONE_NEWNS, `setns ${plan.mountNamespace}`);
    libc.close(fd);
  } else if (plan.chroot !== undefined) {
    step = 'entering the rootfs';
    libc.chroot(plan.chroot, `chroot into ${plan.chroot}`);
  }
  libc.chdir('/', 'entering the container root');
  if (plan.console && consoleSocket !== undefined) {
    step = 'setting up the terminal';
    consoleSlave = setupConsole(plan.console, consoleSocket, false);
  }
  return prepareProcess(proc, lastCap);
}

/** While the host's root is ours: libseccomp is the host's, and so is a NOTIFY listener's socket. */
function prepareSeccompEarly(proc: ProcessPlan | undefined, lastCap: number): void {
  if (proc?.seccomp === undefined) return;
  step = 'preparing the seccomp filter';
  seccomp = prepareSeccomp(proc.seccomp, proc, lastCap);
}

/** Preserved fds from 4.. down to 3.. (over the channel), inheritable; everything above close-on-exec. */
function placePreservedFds(): void {
  for (let i = 0; i < preservedFds; i++) {
    libc.dup2(4 + i, 3 + i, `preserved fd ${3 + i}`);
    channelOpen = false;
    libc.makeInheritable(3 + i, `preserved fd ${3 + i}`);
  }
}

/**
 * Mounts done, pivot_root next (runtime.md Lifecycle steps 3-5): the parent runs prestart and
 * createRuntime in the runtime namespace meanwhile, then the createContainer hooks run here,
 * in the container's namespaces with paths resolving on the host's root (config.md).
 */
function beforePivot(hooks: InitHooks): void {
  if (hooks.runtimeHooks) {
    step = 'waiting for the prestart and createRuntime hooks';
    sendSync(INIT_CHANNEL_FD, { type: 'hooks' });
    const reply = readLineSync(INIT_CHANNEL_FD);
    if ((JSON.parse(reply || '{}') as Partial<ParentMessage>).type !== 'hooks-done') {
      throw new Error(`unexpected answer from tsrunc create: ${reply || 'nothing'}`);
    }
  }
  step = 'running the createContainer hooks';
  runHooks('createContainer', hooks.createContainer, { ...hooks.state, status: 'created' });
}

/** Blocks until `tsrunc start` opens exec.fifo for reading, then tells it we got there. */
function waitForStart(stateDirFd: number): void {
  step = 'waiting for start';
  const fifo = libc.openat(stateDirFd, 'exec.fifo', libc.O_WRONLY | libc.O_CLOEXEC, 0, 'opening exec.fifo');
  libc.writeAll(fifo, Buffer.from('0'), 'writing exec.fifo');
  // Kept open: close-on-exec, so `start` reads EOF once execve succeeded, or an error before.
  startFifo = fifo;
  libc.close(stateDirFd);
}

function execContainerProcess(executable: string, env: string[], proc: ProcessPlan): never {
  step = 'setting memory rlimits';
  applyRlimits(proc.rlimits, 'before-exec');
  step = 'preparing stdio';
  if (consoleSlave !== undefined) attachConsole(consoleSlave);
  placePreservedFds();
  for (const fd of [0, 1, 2]) {
    if (libc.isOpen(fd)) libc.makeInheritable(fd, `stdio fd ${fd}`);
  }
  libc.cloexecFrom(3 + preservedFds, 'marking inherited fds close-on-exec');
  step = 'applying security labels';
  applyLsmBeforeExec(proc.lsm);
  if (seccomp !== undefined) {
    step = 'loading the seccomp filter';
    loadSeccomp(seccomp);
  }
  step = 'executing the container process';
  return libc.execve(executable, proc.args, env, `exec ${executable}`);
}

function main(): void {
  let plan: InitPlan;
  try {
    const parsed = JSON.parse(readLineSync(INIT_CHANNEL_FD)) as InitPlan | ExecPlan;
    if ('kind' in parsed && parsed.kind === 'exec') {
      preservedFds = parsed.preserveFds;
      try {
        const exec = prepareExec(parsed);
        execContainerProcess(exec.executable, exec.env, exec.process);
      } catch (error) {
        reportAndExit(error);
      }
    }
    plan = parsed as InitPlan;
    preservedFds = plan.preserveFds ?? 0;
  } catch (error) {
    process.exit(1); // the parent is gone or sent nothing: nobody to report to
  }
  try {
    const { stateDirFd, exec } = prepare(plan);
    sendSync(INIT_CHANNEL_FD, { type: 'ready' });
    waitForStart(stateDirFd);
    if (!exec) throw new Error('config.json has no process to start');
    if (plan.hooks) {
      // runtime.md Lifecycle step 7; config.md: resolves and runs in the container namespace.
      step = 'running the startContainer hooks';
      runHooks('startContainer', plan.hooks.startContainer, { ...plan.hooks.state, status: 'created' });
    }
    execContainerProcess(exec.executable, exec.env, exec.process);
  } catch (error) {
    reportAndExit(error);
  }
}

function reportAndExit(error: unknown): never {
  const message = `${step}: ${errorLine(error)}`;
  if (startFifo !== undefined) {
    try {
      libc.writeAll(startFifo, Buffer.from(message), 'writing exec.fifo');
    } catch {
      // start is gone: stderr below is all that is left
    }
  }
  try {
    if (!channelOpen) throw new Error('the channel fd now holds a preserved fd');
    sendSync(INIT_CHANNEL_FD, { type: 'error', message });
  } catch {
    // After ready the parent may be gone (create returned): stderr is all that is left.
    fs.writeSync(2, `tsrunc init: ${message}\n`);
  }
  process.exit(1);
}

main();
