/**
 * `tsrunc create`: validate, plan, make the state directory, spawn the init in the container's
 * namespaces, hand it the plan, and return once it reports ready. Any failure removes
 * everything this call made (init process, state directory) before the error is reported.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { sessionKeyringName } from '../linux/keyring.js';
import { TsruncError } from '../errors.js';
import { initScript } from '../install-paths.js';
import { logWarning } from '../log.js';
import { loadConfig } from '../spec/load.js';
import type { TsruncState } from '../spec/state.js';
import * as libc from '../linux/libc.js';
import { readProcStat } from '../linux/proc-stat.js';
import { spawnInNamespaces, type InitChild } from '../linux/spawn-in-namespaces.js';
import { cgroupManagerForConfig, type CgroupManager } from '../linux/cgroups/index.js';
import { RootlessCgroups, checkRootlessConfig, isRootless } from '../linux/user-namespace-rootless.js';
import { inRootfsDirectory, openDetachedMounts } from '../linux/user-namespace-mounts.js';
import { consoleSocketForUserNamespace } from '../linux/user-namespace.js';
import { INIT_CHANNEL_FD, MessageReader } from '../init/channel.js';
import { validateId } from './id.js';
import { planContainer } from './plan-init.js';
import { passedFds } from './preserve-fds.js';
import { checkHooks, hookCount, hookState, runHooks, runHooksWarnOnly } from './hooks.js';
import {
  EXEC_FIFO, createContainerDir, removeContainerDir, writeFileAtomic, writeState, type LockedDir,
} from './state-store.js';

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string | undefined;
  pidFile: string | undefined;
  noPivot: boolean;
  /** `run` keeps the init as its child to wait for it; `create` lets it go. */
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
}

export interface CreatedContainer {
  pid: number;
  dir: string;
  child: InitChild;
}


/** `onHooks` runs when the init asks for the prestart and createRuntime hooks (channel.ts). */
function waitForReady(child: InitChild, channel: Duplex, onHooks: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const reader = new MessageReader();
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      channel.removeAllListeners('data');
      if (error) reject(error);
      else resolve();
    };
    channel.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        if (message.type === 'ready') settle();
        else if (message.type === 'hooks') {
          try {
            onHooks();
            channel.write(`${JSON.stringify({ type: 'hooks-done' })}\n`);
          } catch (error) {
            settle(error as Error);
          }
        } else settle(new TsruncError(message.message));
      }
    });
    channel.on('error', () => undefined); // the exit handler below reports what matters
    child.on('error', (error) => settle(new TsruncError(`starting the init: ${error.message}`)));
    // 'close' comes after the channel is drained, so an error message sent just before
    // exiting is reported rather than this generic line.
    child.on('close', (code, signal) =>
      settle(new TsruncError(`the container init exited before it was ready (${signal ?? `status ${code}`})`)),
    );
  });
}

async function killAndReap(child: InitChild): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

export async function createContainer(options: CreateOptions): Promise<CreatedContainer> {
  validateId(options.id);
  const bundle = path.resolve(options.bundle ?? process.cwd());
  const config = loadConfig(bundle);
  const rootfsPath = path.resolve(bundle, config.root?.path ?? '');
  if (!fs.existsSync(rootfsPath) || !fs.statSync(rootfsPath).isDirectory()) {
    throw new TsruncError(`rootfs: ${rootfsPath}: no such directory (config.json /root/path)`);
  }
  checkHooks(config.hooks);
  const rootless = isRootless(options.rootless);
  if (rootless) checkRootlessConfig(config, process.geteuid!(), process.getegid!());
  let cgroups: CgroupManager | undefined;
  let lock: LockedDir | undefined = createContainerDir(options.root, options.id);
  const dir = lock.dir;
  let child: InitChild | undefined;
  let cgroupMade = false;
  try {
    const passed = passedFds(options.preserveFds);
    const plan = planContainer(config, {
      id: options.id, bundle, stateDir: dir, noPivot: options.noPivot,
      consoleSocket: options.consoleSocket ?? (config.process?.terminal && options.foregroundConsole ? options.foregroundConsole() : undefined),
      preserveFds: passed.fds.length, attached: options.keepChild,
    });
    if (!options.noNewKeyring) {
      plan.init.sessionKeyring = {
        name: sessionKeyringName(options.id),
        inUserNamespace: config.linux?.namespaces?.some((ns) => ns.type === 'user') === true,
      };
    }
    plan.init.process?.env.push(...passed.env);
    const hooks = config.hooks;
    const stateForHooks = (pid: number) =>
      hookState({ ociVersion: config.ociVersion, id: options.id, pid, bundle, annotations: config.annotations }, 'created');
    if (hookCount(hooks, 'prestart', 'createRuntime', 'createContainer', 'startContainer') > 0) {
      plan.init.hooks = {
        runtimeHooks: hookCount(hooks, 'prestart', 'createRuntime') > 0,
        createContainer: [...(hooks?.createContainer ?? [])],
        startContainer: [...(hooks?.startContainer ?? [])],
        state: stateForHooks(0),
      };
    }
    const rootfsPlan = plan.init.rootfs;
    if (rootfsPlan.chrootOnly) {
      const skipped = rootfsPlan.mounts.length + rootfsPlan.maskedPaths.length + rootfsPlan.readonlyPaths.length;
      if (skipped > 0 || rootfsPlan.readonly) {
        // The spec would have these mounted in the host's namespace; they would outlive the container.
        logWarning(`config.json: /linux/namespaces has no mount namespace: tsrunc only chroots, and does not apply mounts, maskedPaths, readonlyPaths or root.readonly (${skipped} skipped)`);
      }
    }
    const fifo = path.join(dir, EXEC_FIFO);
    libc.mkfifo(fifo, 0o622, `creating ${fifo}`);
    fs.chmodSync(fifo, 0o622);

    const { pids: pidsLimit, ...limits } = config.linux?.resources ?? {};
    // Passed by fd: an init in a user namespace is not host root and may not reach it by path.
    const stateDirFd = fs.openSync(dir, 'r');
    plan.init.stateDirFd = 4 + passed.fds.length;
    // Idmapped binds, and every bind of an init in a user namespace, are opened here as host
    // root (the init may not reach them) and handed over after it.
    const treeFds = openDetachedMounts(plan.init.rootfs, plan.namespaces, 5 + passed.fds.length);
    const consoleFds = [consoleSocketForUserNamespace(plan.init.console, plan.namespaces.types)].filter((fd) => fd !== undefined);
    if (consoleFds.length > 0) plan.init.consoleSocketFd = 5 + passed.fds.length + treeFds.length;
    // With a terminal the pty becomes the process's stdio, so the init must not hold ours (runc
    // gives it /dev/null): containerd's shim reads create's output until EOF, which would not
    // come before `start` while the waiting init kept our stdout open.
    const nullFd = plan.init.console ? fs.openSync('/dev/null', 'r+') : undefined;
    try {
      const stdio = nullFd ?? 'inherit';
      child = inRootfsDirectory(plan.init.rootfs, () => spawnInNamespaces(plan.namespaces, {
        command: process.execPath,
        // The id and state dir are there for `ps` readers (and tests looking for leaks).
        args: [initScript, options.id, dir],
        // Passed fds follow the channel; the init moves them down to 3.. before execve.
        stdio: [stdio, stdio, stdio, 'pipe', ...passed.fds, stateDirFd, ...treeFds, ...consoleFds],
        env: {},
      }));
    } finally {
      fs.closeSync(stateDirFd);
      for (const fd of [...treeFds, ...consoleFds]) fs.closeSync(fd);
      if (nullFd !== undefined) fs.closeSync(nullFd);
    }
    const channel = child.stdio[INIT_CHANNEL_FD] as Duplex;
    // The cgroup is made while the init's Node starts (~50 ms), and the init joins it before it
    // reads its plan: no container code runs outside the limits, and the init makes its cgroup
    // namespace after that. pids.max waits until the init is ready: the init is a Node process
    // with about a dozen threads, which a small limit would not let start.
    // Its config errors (cgroupsPath, device rules) come here too: the catch below kills the init.
    const manager = cgroupManagerForConfig(config, options.id, { stateRoot: options.root });
    // Without root: the cgroup only where it was delegated (user-namespace-rootless.ts).
    cgroups = rootless ? new RootlessCgroups(manager, config.linux?.resources) : manager;
    cgroupMade = true;
    cgroups.create();
    cgroups.apply(limits);
    // (No pid: spawn failed, and waitForReady reports why.)
    if (child.pid !== undefined) cgroups.join(child.pid);
    if (plan.init.hooks) plan.init.hooks.state.pid = child.pid ?? 0;
    const spawned = child;
    const ready = waitForReady(child, channel, () => {
      // runtime.md Lifecycle steps 3 and 4, in the runtime namespace (config.md).
      runHooks('prestart', hooks?.prestart, stateForHooks(spawned.pid ?? 0));
      runHooks('createRuntime', hooks?.createRuntime, stateForHooks(spawned.pid ?? 0));
    });
    channel.write(`${JSON.stringify(plan.init)}\n`);
    await ready;
    if (pidsLimit) cgroups.apply({ pids: pidsLimit });

    const pid = child.pid!;
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
    writeState(dir, state);
    if (options.pidFile) writeFileAtomic(path.resolve(options.pidFile), `${pid}`);
    channel.destroy();
    if (!options.keepChild) child.unref();
    lock.release();
    lock = undefined;
    return { pid, dir, child };
  } catch (error) {
    if (child) await killAndReap(child);
    if (cgroupMade && cgroups) {
      try {
        cgroups.destroy();
      } catch (cleanupError) {
        logWarning(`create failed, and removing its cgroup failed too: ${(cleanupError as Error).message}`);
      }
    }
    removeContainerDir(dir);
    if (child?.pid !== undefined) {
      // The container existed: destroyed now, so its poststop hooks run (runtime.md steps 12-13).
      runHooksWarnOnly('poststop', config.hooks?.poststop, hookState({ ociVersion: config.ociVersion, id: options.id, pid: child.pid, bundle, annotations: config.annotations }, 'stopped'), logWarning);
    }
    throw error;
  } finally {
    lock?.release();
  }
}
