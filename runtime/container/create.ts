/**
 * `tsrunc create`: validate, plan, make the state directory and the cgroup, start the native
 * stage (it makes the container's namespaces and clones the init, runtime/native/), answer what
 * it asks for (id maps, the init's facts, hooks, resolved paths), and return once the init
 * reports ready. Any failure removes everything this call made (init, cgroup, state directory)
 * before the error is reported.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import { isDebugOn, logDebug, logWarning } from '../log.js';
import type { OciConfig } from '../spec/config.js';
import type { TsruncState } from '../spec/state.js';
import type { ContainerPlan } from '../plan/types.js';
import * as libc from '../linux/libc.js';
import { readProcStat } from '../linux/proc-stat.js';
import { cgroupManagerForConfig, type CgroupManager } from '../linux/cgroups/index.js';
import { isCgroupFrozen } from '../linux/cgroups/frozen.js';
import { RootlessCgroups, checkRootlessConfig, isRootless } from '../linux/user-namespace-rootless.js';
import { openDetachedMounts } from '../linux/user-namespace-mounts.js';
import { writeIdMaps } from '../linux/user-namespace.js';
import { lastCapability } from '../linux/capabilities.js';
import { buildSeccomp, prepareSeccomp, type BuiltSeccomp } from '../linux/seccomp.js';
import { checkMountDestination, type MountDestination } from '../linux/paths.js';
import { openStageFds } from '../linux/stage-fds.js';
import { startStage, type StageSession } from '../linux/stage-process.js';
import { WatchedProcess } from '../linux/watched-process.js';
import { MovedNetDevices } from '../linux/net-devices.js';
import { validateId } from './id.js';
import { loadBundle } from './bundle.js';
import { planContainer } from './plan-init.js';
import { compileCreate, terminalAfterStart, type CreateProgram, type InitFacts } from './compile-create.js';
import { passedFds } from './preserve-fds.js';
import { checkHooks, hookState, runHooks, runHooksWarnOnly } from './hooks.js';
import {
  EXEC_FIFO, createContainerDir, removeContainerDir, writeFileAtomic, writeState, type LockedDir,
} from './state-store.js';
import { RECOVERY_FILE, type RecoveryRecord } from './recovery-record.js';
import { step } from '../steps.js';

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string | undefined;
  pidFile: string | undefined;
  noPivot: boolean;
  /** `run` keeps watching the init to wait for it; `create` lets it go. */
  keepChild: boolean;
  /** --console-socket: where the pty master goes when process.terminal is set. */
  consoleSocket?: string | undefined;
  /** --preserve-fds: fds 3.. of tsrunc the container process gets at 3.. */
  preserveFds?: number | undefined;
  /**
   * `run` in the foreground without --console-socket: called when process.terminal is set,
   * returns the socket tsrunc itself listens on for the pty master.
   */
  foregroundConsole?: (() => string) | undefined;
  /** --no-new-keyring: keep the caller's session keyring instead of the container's own. */
  noNewKeyring?: boolean | undefined;
  /** --rootless: 'auto' (the default) when not root. */
  rootless?: 'true' | 'false' | 'auto' | undefined;
  /** --systemd-cgroup: the cgroup is a transient scope systemd makes. */
  systemdCgroup?: boolean | undefined;
}

export interface CreatedContainer {
  pid: number;
  dir: string;
  child: WatchedProcess;
  /** The pty master reaches a foreground terminal only after start (compile-create.ts). */
  terminalAfterStart: boolean;
}

/** What the init's own /proc says, for the second half of its program. */
export function initFacts(pid: number): InitFacts {
  const read = (name: string) => fs.readFileSync(`/proc/${pid}/${name}`, 'utf8');
  let setgroups = '';
  try {
    setgroups = read('setgroups');
  } catch {
    // a kernel without user namespaces: setgroups is what it always was
  }
  return { pid, mountinfo: read('mountinfo'), cgroup: read('cgroup'), setgroupsDenied: setgroups.trim() === 'deny' };
}

/** The stage's first process has exited (it does once it cloned the init, or failed). */
function stageExited(session: StageSession): Promise<void> {
  const child = session.child;
  if (child.hasExited) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

interface Conversation {
  session: StageSession;
  program: CreateProgram;
  plan: ContainerPlan;
  /** prestart and createRuntime, when the stage asks for them (runtime.md Lifecycle steps 3 and 4). */
  runtimeHooks(pid: number): void;
  /** Set as soon as the stage reports the init's pid. */
  onInit(init: WatchedProcess): void;
  /** linux.netDevices, moved into the init's network namespace before it sets up (its sysctls may name them). */
  moveNetDevices(pid: number): void;
}

/** Answers the stage until the init is ready; throws the first failure, as one line. */
function converse({ session, program, plan, runtimeHooks, onInit, moveNetDevices }: Conversation): WatchedProcess {
  let init: WatchedProcess | undefined;
  let checks: MountDestination[] = [];
  for (;;) {
    const message = session.next();
    switch (message.type) {
      case 'userns':
        if (!plan.namespaces.user) throw new TsruncError('internal: the stage asked for id maps it has no plan for');
        writeIdMaps(session.pid, plan.namespaces.user);
        session.send([]);
        break;
      case 'pid': {
        const pid = Number(message['pid']);
        init = new WatchedProcess(pid);
        onInit(init);
        moveNetDevices(pid);
        const batch = program.init(initFacts(pid));
        checks = batch.checks;
        session.send(batch.ops);
        break;
      }
      case 'resolved': {
        // A symlink in the rootfs sent a destination elsewhere: judged as config.json's would be.
        const check = checks[Number(message['check'])];
        if (!check) throw new TsruncError('internal: the stage resolved a path tsrunc did not ask about');
        checkMountDestination(String(message['path']), check);
        session.send([]);
        break;
      }
      case 'hooks':
        if (!init) throw new TsruncError('internal: the stage asked for hooks before the init existed');
        runtimeHooks(init.pid);
        session.send([]);
        break;
      case 'ready':
        if (!init) throw new TsruncError('internal: the stage was ready before the init existed');
        return init;
      case 'error':
        throw new TsruncError(String(message['message']));
      case 'closed':
        throw new TsruncError(init ? `the container init exited before it was ready (${init.signalCode ?? `status ${init.exitCode ?? '?'}`})` : 'the native stage exited before it started the init');
      default:
        throw new TsruncError(`internal: the stage said ${JSON.stringify(message)}`);
    }
  }
}

function compile(plan: ContainerPlan): { program: CreateProgram; seccomp: BuiltSeccomp | undefined } {
  const lastCap = lastCapability();
  const proc = plan.process;
  const seccomp = proc?.seccomp ? prepareSeccomp(() => buildSeccomp(proc.seccomp!, proc, lastCap)) : undefined;
  return { program: compileCreate(plan, seccomp, lastCap), seccomp };
}

function warnChrootOnly(plan: ContainerPlan): void {
  const rootfs = plan.rootfs;
  if (!rootfs.chrootOnly) return;
  const skipped = rootfs.mounts.length + rootfs.maskedPaths.length + rootfs.readonlyPaths.length;
  if (skipped > 0 || rootfs.readonly) {
    // The spec would have these mounted in the host's namespace; they would outlive the container.
    logWarning(`config.json: /linux/namespaces has no mount namespace: tsrunc only chroots, and does not apply mounts, maskedPaths, readonlyPaths or root.readonly (${skipped} skipped)`);
  }
}

export async function createContainer(options: CreateOptions): Promise<CreatedContainer> {
  validateId(options.id);
  const { dir: bundle, config, rootfs: rootfsPath } = loadBundle(options.bundle);
  checkHooks(config.hooks);
  const rootless = isRootless(options.rootless);
  if (rootless) checkRootlessConfig(config, process.geteuid!(), process.getegid!());
  const passed = passedFds(options.preserveFds);
  // Fds tsrunc's caller left open (not close-on-exec) reach nothing: not the stage, whose table
  // names its fds, nor the prestart and createRuntime hooks tsrunc runs.
  libc.cloexecFrom(3 + passed.fds.length, 'marking inherited fds close-on-exec');
  let lock: LockedDir | undefined = createContainerDir(options.root, options.id);
  const createdDir = lock;
  const dir = lock.path;
  step('create:dir-made');
  let cgroups: CgroupManager | undefined;
  let session: StageSession | undefined;
  let init: WatchedProcess | undefined;
  let netDevices: MovedNetDevices | undefined;
  try {
    const plan = planContainer(config, {
      id: options.id, bundle, stateDir: dir, noPivot: options.noPivot,
      consoleSocket: options.consoleSocket ?? (config.process?.terminal && options.foregroundConsole ? options.foregroundConsole() : undefined),
      attached: options.keepChild, passedFds: passed.fds, passedEnv: passed.env, noNewKeyring: options.noNewKeyring,
    });
    // The plan `tsrunc explain --format json` prints for the same bundle and flags.
    if (isDebugOn()) logDebug(`plan: ${JSON.stringify(plan)}`);
    warnChrootOnly(plan);
    const { program } = compile(plan);
    const fifo = path.join(dir, EXEC_FIFO);
    libc.mkfifo(fifo, 0o622, `creating ${fifo}`);
    // Written by the init, which may be another user (a user namespace's root), through its fd.
    fs.chmodSync(fifo, 0o622);

    const trees = openDetachedMounts(plan.rootfs);
    try {
      const fds = openStageFds(program.fds, trees);
      try {
        // The id and state directory are there for `ps` readers (and tests looking for leaks).
        session = startStage(fds.stdio, ['init', options.id, dir]);
      } finally {
        fds.close();
      }
    } finally {
      for (const tree of trees.values()) libc.close(tree);
    }

    // The cgroup first: the stage joins it before it does anything, so no container code runs
    // outside the limits. pids.max waits until the init is ready (hooks fork meanwhile).
    // Its config errors (cgroupsPath, device rules) come here too: the catch below cleans up.
    const { pids: pidsLimit, ...limits } = config.linux?.resources ?? {};
    const manager = cgroupManagerForConfig(config, options.id, { stateRoot: options.root, systemd: options.systemdCgroup });
    // A cgroup someone left frozen would freeze the init before it could do anything (runc refuses
    // it too). Checked before the cgroup is ours to clean up: a refusal leaves it as it was.
    if (isCgroupFrozen(manager.paths)) {
      const where = manager.paths['freezer'] ?? manager.paths[''] ?? '';
      throw new TsruncError(`cgroup: ${where}: container's cgroup unexpectedly frozen: thaw it, or choose another cgroupsPath (config.json /linux/cgroupsPath)`);
    }
    // Without root: the cgroup only where it was delegated (user-namespace-rootless.ts).
    cgroups = rootless ? new RootlessCgroups(manager, config.linux?.resources) : manager;
    // Recorded before it exists, so a crash from here on leaves delete --force what to remove.
    const record: RecoveryRecord = { id: options.id, cgroupsPath: config.linux?.cgroupsPath, cgroupPaths: cgroups.paths };
    if (manager.systemdScope) record.systemdScope = manager.systemdScope;
    writeFileAtomic(path.join(dir, RECOVERY_FILE), JSON.stringify(record));
    step('create:recorded');
    cgroups.create();
    const already = cgroups.pids();
    if (already.length > 0) {
      logWarning(`cgroup: the container's cgroup is not empty: ${already.length} process(es) already in it (${already.slice(0, 5).join(' ')}); kill --all and delete will signal them too`);
    }
    cgroups.apply(limits);
    cgroups.join(session.pid);
    step('create:cgroup-made');
    session.send(program.spawn);
    const hooks = config.hooks;
    const stateForHooks = (pid: number) =>
      hookState({ ociVersion: config.ociVersion, id: options.id, pid, bundle, annotations: config.annotations }, 'created');
    init = converse({
      session, program, plan,
      runtimeHooks: (pid) => {
        // runtime.md Lifecycle steps 3 and 4, in the runtime namespace (config.md).
        runHooks('prestart', hooks?.prestart, stateForHooks(pid));
        runHooks('createRuntime', hooks?.createRuntime, stateForHooks(pid));
      },
      onInit: (started) => {
        init = started;
        const startTime = readProcStat(started.pid)?.startTime;
        if (startTime !== undefined) {
          writeFileAtomic(path.join(dir, RECOVERY_FILE), JSON.stringify({ ...record, init: { pid: started.pid, startTime } }));
        }
        step('create:init-cloned');
      },
      moveNetDevices: (pid) => {
        if (plan.netDevices.length === 0) return;
        netDevices = MovedNetDevices.open(pid);
        netDevices.move(plan.netDevices);
      },
    });
    step('create:ready');
    if (pidsLimit) cgroups.apply({ pids: pidsLimit });

    const pid = init.pid;
    const stat = readProcStat(pid);
    if (!stat) throw new TsruncError(`the container init (pid ${pid}) vanished after it was ready`);
    const state: TsruncState = {
      ociVersion: config.ociVersion,
      id: options.id,
      status: 'created',
      pid,
      bundle,
      rootfs: rootfsPath,
      created: new Date().toISOString(),
      initStartTime: stat.startTime,
      owner: os.userInfo().username,
      annotations: config.annotations ?? {},
      config,
      cgroupPaths: cgroups.paths,
    };
    if (plan.sessionKeyring) state.sessionKeyring = plan.sessionKeyring.name;
    if (manager.systemdScope) state.systemdScope = { ...manager.systemdScope };
    writeState(dir, state);
    if (options.pidFile) writeFileAtomic(path.resolve(options.pidFile), `${pid}`, 0o644);
    step('create:state-written');
    // The init waits for this before it waits for start: if tsrunc dies before the container
    // is recorded, the init reads EOF and exits instead of waiting for ever.
    session.send([]);
    step('create:committed');
    session.close();
    // The devices stay in the container's namespace; its processes keep it alive from now on.
    netDevices?.release();
    netDevices = undefined;
    session.child.unref();
    if (!options.keepChild) init.unref();
    lock.release();
    lock = undefined;
    return { pid, dir, child: init, terminalAfterStart: terminalAfterStart(plan) };
  } catch (error) {
    await cleanUp(session, init, netDevices, cgroups, createdDir, config, options.id, bundle);
    throw error;
  } finally {
    lock?.release();
  }
}

/**
 * Undoes a create that failed: the stage and init killed and reaped, network devices moved back
 * to the host, the cgroup and state directory gone.
 */
async function cleanUp(
  session: StageSession | undefined, init: WatchedProcess | undefined, netDevices: MovedNetDevices | undefined, cgroups: CgroupManager | undefined,
  dir: LockedDir, config: OciConfig, id: string, bundle: string,
): Promise<void> {
  if (session) {
    session.close(); // a stage waiting for its next batch exits
    session.child.kill('SIGKILL');
    await stageExited(session);
  }
  if (init) await init.killAndReap();
  // Its namespace outlives the init (MovedNetDevices holds it): without this a virtual device would die with it.
  netDevices?.moveBack();
  if (cgroups) {
    try {
      cgroups.destroy();
    } catch (cleanupError) {
      logWarning(`create failed, and removing its cgroup failed too: ${(cleanupError as Error).message}`);
    }
  }
  removeContainerDir(dir);
  if (init) {
    // The container existed: destroyed now, so its poststop hooks run (runtime.md steps 12-13).
    runHooksWarnOnly('poststop', config.hooks?.poststop, hookState({ ociVersion: config.ociVersion, id, pid: init.pid, bundle, annotations: config.annotations }, 'stopped'), logWarning);
  }
}
