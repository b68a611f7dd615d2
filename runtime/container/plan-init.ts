/**
 * The planner: a validated config.json, the bundle and create's flags → the container's plan
 * (plan/types.ts), finished: nothing is added to it later. Every config error that can be found
 * without making anything is found here. What it needs to know of the host (whether tsrunc is
 * root, what a bind source is, what is mounted below it) comes through `host`, so that tests can
 * plan without one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OciConfig } from '../spec/config.js';
import type { ContainerPlan, Hook, HookState, MountStep } from '../plan/types.js';
import { planConsole } from './plan-console.js';
import { TsruncError } from '../errors.js';
import { logWarning } from '../log.js';
import { CLONE_NEWNS, planNamespaces } from '../linux/namespaces.js';
import { MS_RDONLY, parseMountOptions, rootPropagationFlags } from '../linux/mount-options.js';
import { planDevices } from '../linux/devices.js';
import { planSysctl } from '../linux/sysctl.js';
import { planMountLabel } from '../linux/lsm.js';
import { planProcess } from './plan-process.js';
import { checkMountDestination } from '../linux/paths.js';
import { IDMAP_OPTIONS, planIdmap } from '../linux/user-namespace-idmap.js';
import { hasSubmounts, initIsMappedRoot, isDetached } from '../linux/user-namespace-mounts.js';
import { sessionKeyringName } from '../linux/keyring.js';
import { planNetDevices } from '../linux/net-devices.js';
import { ifNameToIndex } from '../linux/libc.js';

/** What planning asks of the host. */
export interface HostFacts {
  runtimeIsRoot: boolean;
  /** What a bind mount's source is; undefined: it does not exist. */
  sourceKind(source: string): 'directory' | 'file' | undefined;
  hasSubmounts(source: string): boolean;
  /** Whether tsrunc's network namespace has a network device of that name (linux.netDevices). */
  netDeviceExists(name: string): boolean;
}

export const realHost: HostFacts = {
  runtimeIsRoot: process.geteuid?.() === 0,
  sourceKind(source) {
    try {
      return fs.statSync(source).isDirectory() ? 'directory' : 'file';
    } catch {
      return undefined;
    }
  },
  hasSubmounts: (source) => hasSubmounts(source),
  netDeviceExists: (name) => ifNameToIndex(name) !== 0,
};

export interface CreateFlags {
  id: string;
  bundle: string;
  stateDir: string;
  noPivot: boolean;
  /** --console-socket, absolute. */
  consoleSocket?: string | undefined;
  /** `run` without --detach: tsrunc stays (and relays the terminal itself when there is no --console-socket). */
  attached?: boolean | undefined;
  /** tsrunc's fds the program gets at 3.. (--preserve-fds, LISTEN_FDS), and what they add to its environment. */
  passedFds?: number[] | undefined;
  passedEnv?: string[] | undefined;
  /** --no-new-keyring: keep the caller's session keyring instead of the container's own. */
  noNewKeyring?: boolean | undefined;
  host?: HostFacts | undefined;
}

function planMounts(config: OciConfig, bundle: string, host: HostFacts, mappedRoot: boolean): MountStep[] {
  return (config.mounts ?? []).map((mount, index) => {
    if (!path.isAbsolute(mount.destination)) {
      // runtime-spec 1.2: "it MAY be a relative path, in which case it MUST be interpreted as relative to "/"" (deprecated).
      logWarning(`config.json: /mounts/${index}/destination: "${mount.destination}" is relative: taken as "/${mount.destination}" (relative destinations are deprecated)`);
    }
    // idmap/ridmap are not mount(2) options: user-namespace-idmap.ts makes such a mount.
    const options = parseMountOptions((mount.options ?? []).filter((option) => !IDMAP_OPTIONS.includes(option)));
    const type = mount.type ?? '';
    const isBind = (options.flags & 0x1000) !== 0 || type === 'bind';
    const source = mount.source ?? '';
    if (isBind && source === '') throw new TsruncError(`config.json: /mounts/${index}/source: a bind mount needs a source`);
    if (options.copyUp && (isBind || type !== 'tmpfs')) {
      throw new TsruncError(`config.json: /mounts/${index}/options: tmpcopyup is for tmpfs mounts only`);
    }
    const step: MountStep = {
      // Relative bind sources are relative to the bundle (runtime-spec, "Mounts").
      source: isBind && !path.isAbsolute(source) ? path.join(bundle, source) : source,
      // "/dev/" is "/dev": normalize keeps a trailing slash, which would hide the mount from checks.
      destination: path.posix.normalize(`/${mount.destination}`).replace(/(.)\/+$/, '$1'),
      type: type === 'bind' ? '' : type,
      flags: isBind ? options.flags | 0x1000 : options.flags,
      propagation: options.propagation,
      ...(options.recursive ? { recursive: options.recursive } : {}),
      ...(options.copyUp ? { copyUp: true } : {}),
      data: options.data,
      index,
    };
    const idmap = planIdmap(mount, index, isBind, config.linux ?? {});
    if (idmap) step.idmap = idmap;
    if (isBind && isDetached(step, mappedRoot, (s) => host.hasSubmounts(s))) {
      // tsrunc opens it (open_tree): it must be there now. Other sources are looked at by the
      // stage when it mounts them, in its own mount namespace, where an earlier mount may make one.
      const kind = host.sourceKind(step.source);
      if (kind === undefined) {
        throw new TsruncError(`config.json: /mounts/${index}/source: ${step.source} does not exist (${idmap ? 'idmapped ' : ''}bind mount on ${step.destination})`);
      }
      step.sourceIsDirectory = kind === 'directory';
      step.detached = true;
    }
    // Lexically here; tsrunc checks again where the stage resolves a symlink in the rootfs.
    checkMountDestination(step.destination, { ...step, bind: isBind });
    return step;
  });
}

/** Whether a proc filesystem ends up on /proc (the stage reopens exec.fifo through /proc/self/fd). */
function mountsProc(mounts: readonly MountStep[]): boolean {
  return mounts.some((m) => m.destination === '/proc' && (m.type === 'proc' || (m.flags & 0x1000) !== 0));
}

export function planContainer(config: OciConfig, flags: CreateFlags): ContainerPlan {
  const host = flags.host ?? realHost;
  const linux = config.linux ?? {};
  const namespaces = planNamespaces(linux.namespaces ?? [], {
    uidMappings: linux.uidMappings, gidMappings: linux.gidMappings, timeOffsets: linux.timeOffsets,
  });
  const has = (type: string) => namespaces.types.includes(type as never);
  const netDevices = planNetDevices(linux.netDevices, namespaces, host);
  // A runtime-spec field tsrunc does not apply yet: refused, never accepted and ignored.
  if (linux.intelRdt) throw new TsruncError('config.json: /linux/intelRdt: Intel RDT (resctrl) is not supported by tsrunc yet');
  if (config.hostname !== undefined && config.hostname !== '' && !has('uts')) {
    throw new TsruncError('config.json: /hostname: setting the hostname needs a uts namespace');
  }
  if (config.domainname !== undefined && config.domainname !== '' && !has('uts')) {
    throw new TsruncError('config.json: /domainname: setting the domainname needs a uts namespace');
  }
  const process = config.process;
  if (process && (!process.args || process.args.length === 0)) {
    throw new TsruncError('config.json: /process/args: must name the program to run');
  }
  if (process && !path.posix.isAbsolute(process.cwd)) {
    throw new TsruncError(`config.json: /process/cwd: "${process.cwd}" is not an absolute path`);
  }
  const consolePlan = planConsole(process?.terminal === true, flags.consoleSocket, process?.consoleSize, flags.attached);
  if (!config.root?.path) throw new TsruncError('config.json: /root/path: required');

  const propagation = rootPropagationFlags(linux.rootfsPropagation);
  if (linux.rootfsPropagation && propagation === undefined) {
    throw new TsruncError(`config.json: /linux/rootfsPropagation: unknown propagation "${linux.rootfsPropagation}"`);
  }
  const chrootOnly = !has('mount');
  const mappedRoot = initIsMappedRoot(has('user'), chrootOnly, host.runtimeIsRoot);
  const mounts = planMounts(config, flags.bundle, host, mappedRoot);
  let devMount = mounts.find((m) => m.destination === '/dev');
  let devReadonlyFlags: number | undefined;
  if (devMount && (devMount.flags & MS_RDONLY) !== 0 && !devMount.detached) {
    // Read-only only after the stage has made what goes into it (nodes, /dev/pts, symlinks).
    devReadonlyFlags = devMount.flags;
    const writable: MountStep = { ...devMount, flags: devMount.flags & ~MS_RDONLY };
    mounts[mounts.indexOf(devMount)] = writable;
    devMount = writable;
  }
  const hooks = config.hooks;
  const state: HookState = { ociVersion: config.ociVersion, id: flags.id, status: 'created', pid: 0, bundle: flags.bundle };
  if (config.annotations && Object.keys(config.annotations).length > 0) state.annotations = config.annotations;
  const count = (...kinds: (keyof NonNullable<typeof hooks>)[]) => kinds.reduce((n, kind) => n + (hooks?.[kind]?.length ?? 0), 0);
  const copy = (list: readonly Hook[] | undefined): Hook[] => [...(list ?? [])];

  return {
    containerId: flags.id,
    stateDir: flags.stateDir,
    namespaces,
    rootfs: {
      rootfs: path.resolve(flags.bundle, config.root.path),
      readonly: config.root.readonly === true,
      propagation,
      noPivot: flags.noPivot,
      chrootOnly,
      mounts,
      mountDefaultDev: devMount === undefined,
      devReadonlyFlags,
      createDevices: devMount === undefined || (devMount.flags & 0x1000) === 0,
      devices: planDevices(linux.devices ?? []),
      maskedPaths: [...(linux.maskedPaths ?? [])],
      readonlyPaths: [...(linux.readonlyPaths ?? [])],
      mountLabel: planMountLabel(linux.mountLabel),
      // The mapped root may not walk the host path to the rootfs once its user namespace exists.
      rootfsAtCwd: mappedRoot && (namespaces.unshareFlags & CLONE_NEWNS) !== 0,
      procMounted: mountsProc(mounts),
    },
    hostname: config.hostname || undefined,
    domainname: config.domainname || undefined,
    console: consolePlan,
    passedFds: [...(flags.passedFds ?? [])],
    sysctl: planSysctl(linux.sysctl, namespaces.types, {
      hostname: Boolean(config.hostname),
      domainname: Boolean(config.domainname),
      joins: namespaces.joins,
    }),
    netDevices,
    hooks: count('prestart', 'createRuntime', 'createContainer', 'startContainer') === 0 ? undefined : {
      runtimeHooks: count('prestart', 'createRuntime') > 0,
      createContainer: copy(hooks?.createContainer),
      startContainer: copy(hooks?.startContainer),
      state,
    },
    sessionKeyring: flags.noNewKeyring ? undefined : { name: sessionKeyringName(flags.id), inUserNamespace: has('user') },
    runtimeIsRoot: host.runtimeIsRoot,
    process: process && planProcess(process, linux.seccomp, {
      ociVersion: config.ociVersion, id: flags.id, bundle: flags.bundle, annotations: config.annotations ?? {},
    }, { extraEnv: flags.passedEnv, linux }),
  };
}
