/**
 * `tsrunc exec`: run another process in a created or running container, as runc does.
 *
 * The process is the same init program in "exec" mode (init/plan.ts ExecPlan): spawned into
 * every namespace of the container but its mount namespace (the node binary has to be exec'd
 * from the host's root), moved into the container's cgroup before it reads its plan, it joins
 * the mount namespace itself (whose root is the container's pivoted root), sets up user,
 * capabilities, rlimits, noNewPrivileges, LSM and seccomp from the container's config.json
 * unless the flags (or --process) say otherwise, and execve()s. No rootfs work, no fifo.
 */
import fs from 'node:fs';
import path from 'node:path';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { TsruncError } from '../errors.js';
import { initScript } from '../install-paths.js';
import type { OciConfig, OciProcess } from '../spec/config.js';
import type { TsruncState } from '../spec/state.js';
import type { ExecPlan, ProcessPlan } from '../init/plan.js';
import { INIT_CHANNEL_FD, MessageReader } from '../init/channel.js';
import { namespaceKinds, type NamespacePlan, type NamespaceType } from '../linux/namespaces.js';
import { spawnInNamespaces, type InitChild } from '../linux/spawn-in-namespaces.js';
import { planCapabilities } from '../linux/capabilities.js';
import { planRlimits } from '../linux/rlimits.js';
import { planLsm } from '../linux/lsm.js';
import { planSeccomp } from '../linux/seccomp.js';
import { cgroupManagerFromPaths } from '../linux/cgroups/index.js';
import { openContainer, writeFileAtomic } from './state-store.js';
import { containerStatus } from './status.js';
import { planConsole } from './plan-init.js';
import { passedFds } from './preserve-fds.js';
import { withForegroundTerminal, type ForegroundTerminal } from './foreground-terminal.js';
import { execCgroupPaths } from './exec-cgroup.js';
import { consoleSocketForUserNamespace } from '../linux/user-namespace.js';

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
}


/** Where /proc/<pid>/ns/ names each type (the init's own namespaces, not *_for_children). */
const nsEntry = (type: NamespaceType): string => namespaceKinds[type].procEntry.replace(/_for_children$/, '');

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
  const user = proc.user ?? { uid: 0, gid: 0 };
  return {
    args: [...proc.args],
    env: [...(proc.env ?? [])],
    cwd: proc.cwd,
    uid: user.uid,
    gid: user.gid,
    additionalGids: [...(user.additionalGids ?? [])],
    umask: user.umask,
    noNewPrivileges: proc.noNewPrivileges === true,
    oomScoreAdj: proc.oomScoreAdj,
    rlimits: planRlimits(proc.rlimits ?? []),
    capabilities: proc.capabilities ? planCapabilities(proc.capabilities) : undefined,
    lsm: planLsm(proc.apparmorProfile, proc.selinuxLabel, undefined, apparmorOrigin),
    seccomp: planSeccomp(config.linux?.seccomp, {
      ociVersion: config.ociVersion, id: state.id, bundle: state.bundle, annotations: config.annotations ?? {}, status: 'running',
    }),
  };
}

/** Every namespace the container has, joined through its init's /proc/<pid>/ns (mount: by the init itself). */
function namespacesOf(state: TsruncState): { spawn: NamespacePlan; mount: boolean } {
  const types = (state.config.linux?.namespaces ?? []).map((ns) => ns.type as NamespaceType);
  // A user namespace is joined first (spawn-in-namespaces.ts): the others belong to it.
  const joined = types.filter((type) => type !== 'mount').sort((a, b) => Number(b === 'user') - Number(a === 'user'));
  return {
    spawn: {
      unshareFlags: 0,
      joins: joined.map((type) => ({ type, path: `/proc/${state.pid}/ns/${nsEntry(type)}` })),
      newCgroupNamespace: false,
      types: joined,
    },
    mount: types.includes('mount'),
  };
}

/**
 * Resolves once the init exec'd: the channel is close-on-exec, so it ends with nothing said.
 * A failure before that is an error message on it. (An init killed before it could say
 * anything also ends it: then the exit status tells.)
 */
function waitForExec(child: InitChild, channel: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    const reader = new MessageReader();
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve();
    };
    channel.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        if (message.type === 'error') settle(new TsruncError(`exec failed: ${message.message}`));
      }
    });
    channel.on('error', () => undefined);
    channel.on('end', () => settle());
    channel.on('close', () => settle());
    child.on('error', (error) => settle(new TsruncError(`exec: starting the process: ${error.message}`)));
  });
}

function exitStatus(child: InitChild): Promise<number> {
  return new Promise<number>((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null) =>
      resolve(signal ? 128 + (constants.signals[signal] ?? 0) : code ?? 0);
    if (child.exitCode !== null || child.signalCode !== null) settle(child.exitCode, child.signalCode);
    else child.once('exit', settle);
  });
}

/** The container's cgroup paths with --cgroup's sub-cgroups in place; each must exist. */
function subCgroups(state: TsruncState, specs: string[]): Record<string, string> {
  const base = state.cgroupPaths ?? {};
  if (Object.keys(base).length === 0) throw new TsruncError(`--cgroup: container ${state.id} has no cgroup`);
  const paths = execCgroupPaths(base, specs);
  for (const [controller, dir] of Object.entries(paths)) {
    if (dir !== base[controller] && !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new TsruncError(`--cgroup: sub-cgroup ${dir} does not exist (it must be made before exec)`);
    }
  }
  return paths;
}

/** Returns the status tsrunc exits with: the process's when attached, 0 when detached. */
export async function execInContainer(options: ExecOptions): Promise<number> {
  // --tty in the foreground without --console-socket: tsrunc relays the pty itself, as runc.
  return withForegroundTerminal(options, (terminal) => execWith(options, terminal));
}

async function execWith(options: ExecOptions, terminal: ForegroundTerminal | undefined): Promise<number> {
  const { lock, state } = openContainer(options.root, options.id);
  let child: InitChild;
  let plan: ExecPlan;
  let passed: ReturnType<typeof passedFds>;
  try {
    const status = containerStatus(state, lock.dir);
    if (status === 'stopped') throw new TsruncError(`cannot exec in a stopped container: ${options.id}`);
    if (status === 'paused') throw new TsruncError(`cannot exec in a paused container: ${options.id}`);
    const proc = execProcess(state.config, options);
    const consoleSocket = options.consoleSocket ?? (proc.terminal === true && terminal ? terminal.listen() : undefined);
    const consolePlan = planConsole(proc.terminal === true, consoleSocket, proc.consoleSize, !options.detach);
    const cgroupPaths = options.cgroups && options.cgroups.length > 0 ? subCgroups(state, options.cgroups) : state.cgroupPaths;
    passed = passedFds(options.preserveFds);
    const apparmorOrigin = options.processFile !== undefined ? `--process ${options.processFile}: /apparmorProfile`
      : options.apparmor !== undefined ? '--apparmor' : 'config.json: /process/apparmorProfile';
    const processPlan = planExecProcess(proc, state, apparmorOrigin);
    processPlan.env.push(...passed.env);
    const namespaces = namespacesOf(state);
    plan = {
      kind: 'exec',
      mountNamespace: namespaces.mount ? `/proc/${state.pid}/ns/mnt` : undefined,
      chroot: namespaces.mount ? undefined : state.rootfs,
      process: processPlan,
      console: consolePlan,
      preserveFds: passed.fds.length,
    };
    // In a user namespace the socket is connected here (user-namespace.ts) and follows the passed fds.
    const consoleFds = [consoleSocketForUserNamespace(consolePlan, namespaces.spawn.types)].filter((fd) => fd !== undefined);
    if (consoleFds.length > 0) plan.consoleSocketFd = 4 + passed.fds.length;
    try {
      child = spawnInNamespaces(namespaces.spawn, {
        command: process.execPath,
        args: [initScript, options.id, 'exec'],
        stdio: ['inherit', 'inherit', 'inherit', 'pipe', ...passed.fds, ...consoleFds],
        env: {},
      });
    } finally {
      for (const fd of consoleFds) fs.closeSync(fd);
    }
    // Into the container's cgroup before the process reads its plan (no pid: spawn failed,
    // and waitForExec reports why).
    const paths = cgroupPaths;
    if (child.pid !== undefined && paths && Object.keys(paths).length > 0) {
      try {
        cgroupManagerFromPaths(paths).join(child.pid);
      } catch (error) {
        child.kill('SIGKILL');
        throw error;
      }
    }
  } finally {
    lock.release();
  }

  const channel = child.stdio[INIT_CHANNEL_FD] as Duplex;
  const started = waitForExec(child, channel);
  // The exit status is wanted from the start: listening late would miss a quick exit.
  const exited = exitStatus(child);
  const forward = (signal: NodeJS.Signals) => {
    // With a terminal, window size changes go to the pty (the kernel tells the process).
    if (signal === 'SIGWINCH' && terminal?.received) return;
    try {
      if (child.pid !== undefined) process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  };
  if (!options.detach) for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  try {
    channel.write(`${JSON.stringify(plan)}\n`);
    try {
      await started;
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      throw error;
    }
    if (options.pidFile) writeFileAtomic(path.resolve(options.pidFile), `${child.pid}`);
    channel.destroy();
    if (options.detach) {
      child.unref();
      return 0;
    }
    terminal?.receive();
    const relayed = terminal?.received ? terminal.relay() : undefined;
    const status = await exited;
    // The last output may still be in the pty after the process exited.
    if (relayed) await relayed;
    return status;
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  }
}
