/**
 * `tsrunc exec`: run another process in a created or running container, as runc does.
 *
 * The native stage does it (compile-exec.ts): moved into the container's cgroup before it
 * reads its program, it joins every namespace of the container, clones the process, and sets
 * up its user, capabilities, rlimits, noNewPrivileges, LSM and seccomp from the container's
 * config.json unless the flags (or --process) say otherwise, and execs. No rootfs work, no fifo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import type { OciConfig, OciProcess } from '../spec/config.js';
import type { TsruncState } from '../spec/state.js';
import type { ExecPlan, NamespaceType, ProcessPlan } from '../plan/types.js';
import * as libc from '../linux/libc.js';
import { namespaceKinds } from '../linux/namespaces.js';
import { lastCapability } from '../linux/capabilities.js';
import { buildSeccomp, prepareSeccomp } from '../linux/seccomp.js';
import { planProcess } from './plan-process.js';
import { joinCgroups } from '../linux/cgroups/join.js';
import { openStageFds } from '../linux/stage-fds.js';
import { startStage, type StageSession } from '../linux/stage-process.js';
import { WatchedProcess } from '../linux/watched-process.js';
import { openContainer, writeFileAtomic } from './state-store.js';
import { checkedCgroupPaths } from '../linux/cgroups/saved.js';
import { step } from '../steps.js';
import { containerStatus } from './status.js';
import { planConsole } from './plan-console.js';
import { passedFds } from './preserve-fds.js';
import { withForegroundTerminal, type ForegroundTerminal } from './foreground-terminal.js';
import { execCgroupPaths } from './exec-cgroup.js';
import { compileExec, type ExecProgram } from './compile-exec.js';

export interface ExecOptions {
  root: string;
  id: string;
  /** The command and its arguments (ignored with --process). */
  args: string[];
  /** --process FILE: a process JSON (config.json's process object); the other process flags are then ignored, as in runc. */
  processFile: string | undefined;
  cwd: string | undefined;
  env: string[];
  /** --user uid[:gid] */
  user: string | undefined;
  additionalGids: number[];
  caps: string[];
  noNewPrivs: boolean;
  tty: boolean;
  detach: boolean;
  pidFile: string | undefined;
  consoleSocket: string | undefined;
  preserveFds: number;
  /** --apparmor: the AppArmor profile for the process. */
  apparmor?: string | undefined;
  /** --process-label: the SELinux label for the process. */
  processLabel?: string | undefined;
  /** --cgroup [CONTROLLER[,...]:]PATH: existing sub-cgroups to run the process in. */
  cgroups?: string[] | undefined;
  /** --ignore-paused: exec in a paused container; the stage, in its frozen cgroup, goes on once it is resumed. */
  ignorePaused?: boolean | undefined;
}


const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

function parseUser(value: string): { uid: number; gid: number | undefined } {
  const match = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!match) throw new TsruncError(`--user: "${value}" is not uid[:gid] (numeric ids only)`);
  return { uid: Number(match[1]), gid: match[2] === undefined ? undefined : Number(match[2]) };
}

/** runc's getProcess: --process FILE as is, else config.json's process with the flags applied. */
export function execProcess(config: OciConfig, options: ExecOptions): OciProcess {
  if (options.processFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(options.processFile, 'utf8'));
    } catch (error) {
      throw new TsruncError(`--process ${options.processFile}: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new TsruncError(`--process ${options.processFile}: must be a JSON object`);
    }
    const proc = parsed as OciProcess;
    if (!Array.isArray(proc.args) || proc.args.length === 0 || proc.args.some((a) => typeof a !== 'string')) {
      throw new TsruncError(`--process ${options.processFile}: /args: must name the program to run`);
    }
    if (typeof proc.cwd !== 'string') throw new TsruncError(`--process ${options.processFile}: /cwd: required`);
    return proc;
  }
  if (options.args.length === 0) throw new TsruncError('exec: no command given: tsrunc exec <id> <command> [args...]');
  const base: OciProcess = config.process ?? { args: [], cwd: '/' };
  const proc: OciProcess = structuredClone(base);
  proc.args = [...options.args];
  proc.terminal = options.tty;
  if (options.cwd !== undefined) proc.cwd = options.cwd;
  if (options.env.length > 0) proc.env = [...(proc.env ?? []), ...options.env];
  const user = { uid: proc.user?.uid ?? 0, gid: proc.user?.gid ?? 0, ...(proc.user ?? {}) };
  if (options.user !== undefined) {
    const parsed = parseUser(options.user);
    user.uid = parsed.uid;
    if (parsed.gid !== undefined) user.gid = parsed.gid;
  }
  if (options.additionalGids.length > 0) user.additionalGids = [...(user.additionalGids ?? []), ...options.additionalGids];
  proc.user = user;
  if (options.noNewPrivs) proc.noNewPrivileges = true;
  if (options.apparmor !== undefined) proc.apparmorProfile = options.apparmor;
  if (options.processLabel !== undefined) proc.selinuxLabel = options.processLabel;
  if (options.caps.length > 0) {
    const caps = { ...(proc.capabilities ?? {}) };
    const add = (set: readonly string[] | undefined) => [...(set ?? []), ...options.caps];
    caps.bounding = add(caps.bounding);
    caps.effective = add(caps.effective);
    caps.permitted = add(caps.permitted);
    // Ambient needs inheritable; added only where the config already has inheritable ones (runc).
    if (caps.inheritable && caps.inheritable.length > 0) caps.ambient = add(caps.ambient);
    proc.capabilities = caps;
  }
  return proc;
}

function planExecProcess(proc: OciProcess, state: TsruncState, apparmorOrigin: string): ProcessPlan {
  if (!path.posix.isAbsolute(proc.cwd)) throw new TsruncError(`exec: cwd "${proc.cwd}" is not an absolute path`);
  const config = state.config;
  return planProcess(proc, config.linux?.seccomp, {
    ociVersion: config.ociVersion, id: state.id, bundle: state.bundle, annotations: config.annotations ?? {}, status: 'running',
  }, { apparmorOrigin, linux: config.linux });
}

/** Every namespace the container has, joined through its init's /proc/<pid>/ns, the user namespace first. */
function containerNamespaces(state: TsruncState): ExecPlan['joins'] {
  const types = (state.config.linux?.namespaces ?? []).map((ns) => ns.type as NamespaceType);
  const ordered = [...types.filter((type) => type === 'user'), ...types.filter((type) => type !== 'user')];
  return ordered.map((type) => ({ type, path: `/proc/${state.pid}/ns/${namespaceKinds[type].procEntry}` }));
}

/** The container's cgroup paths with --cgroup's sub-cgroups in place; each must exist. */
function subCgroups(state: TsruncState, base: Record<string, string>, specs: string[]): Record<string, string> {
  if (Object.keys(base).length === 0) throw new TsruncError(`--cgroup: container ${state.id} has no cgroup`);
  const paths = execCgroupPaths(base, specs);
  for (const [controller, dir] of Object.entries(paths)) {
    if (dir !== base[controller] && !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      // runc's words (adding pid ... no such file), checked before anything is started.
      throw new TsruncError(`--cgroup: adding pid to ${dir}/cgroup.procs: no such file or directory (the sub-cgroup must be made before exec)`);
    }
  }
  return paths;
}

/** Returns the status tsrunc exits with: the process's when attached, 0 when detached. */
export async function execInContainer(options: ExecOptions): Promise<number> {
  // --tty in the foreground without --console-socket: tsrunc relays the pty itself, as runc.
  return withForegroundTerminal(options, (terminal) => execWith(options, terminal));
}

/**
 * Answers the stage until it cloned the process, then waits until the process exec'd: its
 * channel is close-on-exec, so it ends with nothing said. A failure before that is its error.
 */
/** "deny" in /proc/PID/setgroups: a user namespace whose maps an unprivileged writer made. */
function setgroupsDenied(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() === 'deny';
  } catch {
    return false; // no user namespaces in this kernel
  }
}

/**
 * Answers the stage until it cloned the process, then waits until the process exec'd: its
 * channel is close-on-exec, so it ends with nothing said. A failure before that is its error.
 * `sent`: the process's batch went with the first (nothing in it needs its pid).
 */
function converse(session: StageSession, program: ExecProgram, sent: boolean, onProcess: (child: WatchedProcess) => void): WatchedProcess {
  let child: WatchedProcess | undefined;
  for (;;) {
    const message = session.next();
    if (message.type === 'pid') {
      const pid = Number(message['pid']);
      child = new WatchedProcess(pid);
      onProcess(child);
      if (!sent) session.send(program.process({ pid, setgroupsDenied: setgroupsDenied(pid) }));
    } else if (message.type === 'error') {
      throw new TsruncError(`exec failed: ${String(message['message'])}`);
    } else if (message.type === 'closed') {
      if (!child) throw new TsruncError('exec failed: the native stage exited before it started the process');
      return child;
    } else {
      throw new TsruncError(`internal: the stage said ${JSON.stringify(message)}`);
    }
  }
}

async function execWith(options: ExecOptions, terminal: ForegroundTerminal | undefined): Promise<number> {
  const passed = passedFds(options.preserveFds);
  libc.cloexecFrom(3 + passed.fds.length, 'marking inherited fds close-on-exec');
  const { lock, state } = openContainer(options.root, options.id);
  let session: StageSession | undefined;
  let program: ExecProgram;
  let sentAtOnce = false;
  try {
    const status = containerStatus(state, lock.dir);
    if (status === 'stopped') throw new TsruncError(`cannot exec in a stopped container: ${options.id}`);
    if (status === 'paused' && !options.ignorePaused) {
      throw new TsruncError(`cannot exec in a paused container: ${options.id} (--ignore-paused runs it once it is resumed)`);
    }
    const proc = execProcess(state.config, options);
    const consoleSocket = options.consoleSocket ?? (proc.terminal === true && terminal ? terminal.listen() : undefined);
    const consolePlan = planConsole(proc.terminal === true, consoleSocket, proc.consoleSize, !options.detach);
    const saved = checkedCgroupPaths({ id: state.id, cgroupsPath: state.config.linux?.cgroupsPath, paths: state.cgroupPaths, systemd: state.systemdScope }, options.root) ?? {};
    const cgroupPaths = options.cgroups && options.cgroups.length > 0 ? subCgroups(state, saved, options.cgroups) : saved;
    const apparmorOrigin = options.processFile !== undefined ? `--process ${options.processFile}: /apparmorProfile`
      : options.apparmor !== undefined ? '--apparmor' : 'config.json: /process/apparmorProfile';
    const processPlan = planExecProcess(proc, state, apparmorOrigin);
    processPlan.env.push(...passed.env);
    const hasMount = (state.config.linux?.namespaces ?? []).some((ns) => ns.type === 'mount');
    const plan: ExecPlan = {
      containerId: state.id,
      joins: containerNamespaces(state),
      chroot: hasMount ? undefined : state.rootfs,
      process: processPlan,
      console: consolePlan,
      passedFds: passed.fds,
      sessionKeyring: state.sessionKeyring,
    };
    const lastCap = lastCapability();
    const seccomp = processPlan.seccomp ? prepareSeccomp(() => buildSeccomp(processPlan.seccomp!, processPlan, lastCap)) : undefined;
    program = compileExec(plan, seccomp, lastCap);
    const fds = openStageFds(program.fds);
    try {
      session = startStage(fds.stdio, ['exec', options.id]);
    } finally {
      fds.close();
    }
    step('exec:stage-spawned');
    // Into the container's cgroup before the stage reads its program.
    if (cgroupPaths && Object.keys(cgroupPaths).length > 0) {
      try {
        joinCgroups(cgroupPaths, session.pid);
      } catch (error) {
        session.child.kill('SIGKILL');
        throw error;
      }
    }
    step('exec:cgroup-joined');
    session.send(program.spawn);
    // The process's own batch right away, unless a seccomp listener must be told its pid: the
    // clone reads it from the channel once it exists (same user namespace as the init, same setgroups).
    sentAtOnce = !seccomp?.listener;
    if (sentAtOnce) session.send(program.process({ pid: 0, setgroupsDenied: setgroupsDenied(state.pid) }));
  } catch (error) {
    session?.close();
    throw error;
  } finally {
    lock.release();
  }

  let child: WatchedProcess | undefined;
  const forward = (signal: NodeJS.Signals) => {
    // With a terminal, window size changes go to the pty (the kernel tells the process).
    if (signal === 'SIGWINCH' && terminal?.received) return;
    child?.kill(signal);
  };
  if (!options.detach) for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  try {
    try {
      child = converse(session, program, sentAtOnce, (started) => (child = started));
    } catch (error) {
      session.close();
      if (child) await child.killAndReap();
      throw error;
    }
    step('exec:started');
    if (options.pidFile) {
      try {
        writeFileAtomic(path.resolve(options.pidFile), `${child.pid}`, 0o644);
      } catch (error) {
        // A manager that cannot learn the pid cannot wait for or kill it: end it, as runc does.
        await child.killAndReap();
        throw new TsruncError(`--pid-file ${options.pidFile}: ${(error as Error).message}`);
      }
    }
    session.child.unref();
    if (options.detach) {
      child.unref();
      child.release();
      return 0;
    }
    terminal?.receive();
    const relayed = terminal?.received ? terminal.relay() : undefined;
    const status = await child.status();
    // The last output may still be in the pty after the process exited.
    if (relayed) await relayed;
    return status;
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  }
}
