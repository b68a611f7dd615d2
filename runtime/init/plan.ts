/**
 * What the parent (`tsrunc create`) sends the init: the config already validated and turned
 * into plain operations, so the init loads nothing but the modules that touch the kernel.
 */
import type { CapabilityPlan } from '../linux/capabilities.js';
import type { RlimitPlan } from '../linux/rlimits.js';
import type { SeccompPlan } from '../linux/seccomp.js';
import type { SysctlPlan } from '../linux/sysctl.js';
import type { LsmPlan } from '../linux/lsm.js';
import type { ConsolePlan } from '../linux/console.js';
import type { Hook, HookState } from '../container/hooks.js';
import type { IdMapping } from '../linux/user-namespace.js';

export interface MountStep {
  source: string;
  destination: string;
  type: string;
  flags: number;
  propagation: number[];
  data: string;
  /** Index in config.json's mounts, for error messages. */
  index: number;
  /** idmap/ridmap (or mount-level mappings): an idmapped bind mount (linux/user-namespace-idmap.ts). */
  idmap?: { recursive: boolean; uidMappings: IdMapping[]; gidMappings: IdMapping[] } | undefined;
  /**
   * The init's fd holding this bind (idmapped, or opened for an init in a user namespace), made
   * detached, with its flags and propagation, by `tsrunc create`: the init only moves it into place.
   */
  treeFd?: number | undefined;
}

export interface DeviceNode {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface RootfsPlan {
  rootfs: string;
  readonly: boolean;
  /** mount(2) flags for "/" before and after pivot; undefined = the default (rslave). */
  propagation: number | undefined;
  noPivot: boolean;
  /**
   * No mount namespace: the container shares the host's, where tsrunc mounts nothing
   * (it would leak onto the host); the init only chroots into the rootfs.
   */
  chrootOnly: boolean;
  mounts: MountStep[];
  /** True when the config mounts nothing at /dev: tsrunc mounts a tmpfs there itself. */
  mountDefaultDev: boolean;
  /** False when /dev is a bind mount from the host: leave its nodes alone. */
  createDevices: boolean;
  devices: DeviceNode[];
  maskedPaths: string[];
  readonlyPaths: string[];
  /** linux.mountLabel, kept only where SELinux is enabled (lsm.ts); context= on filesystem mounts. */
  mountLabel?: string | undefined;
  /**
   * The init starts with the rootfs as its working directory, in its new mount namespace: in a
   * user namespace it may not be able to walk the host path (linux/user-namespace-mounts.ts).
   */
  rootfsAtCwd?: boolean | undefined;
}

export interface ProcessPlan {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask: number | undefined;
  noNewPrivileges: boolean;
  oomScoreAdj: number | undefined;
  rlimits: RlimitPlan[];
  capabilities: CapabilityPlan | undefined;
  lsm: LsmPlan;
  /** Loaded last, right before execve. */
  seccomp: SeccompPlan | undefined;
}

export interface InitPlan {
  containerId: string;
  /** Directory holding exec.fifo; the init keeps an fd to it across pivot_root. */
  stateDir: string;
  /**
   * The same directory as an fd the init inherited: an init in a user namespace is not host
   * root and may not be able to reach the state directory by path (--root is 0700).
   */
  stateDirFd?: number | undefined;
  rootfs: RootfsPlan;
  hostname: string | undefined;
  domainname: string | undefined;
  newCgroupNamespace: boolean;
  sysctl: SysctlPlan;
  /** Absent when config.json has no process: the container can be created, never started. */
  process: ProcessPlan | undefined;
  /** process.terminal with --console-socket (linux/console.ts). */
  console?: ConsolePlan | undefined;
  /** That socket already connected, as an inherited fd (a user namespace's init may not reach its path). */
  consoleSocketFd?: number | undefined;
  /** Fds the init got at 4.. (after its channel at 3) that the program gets at 3.. (--preserve-fds, LISTEN_FDS). */
  preserveFds?: number | undefined;
  /** Absent when config.json has no prestart, createRuntime, createContainer or startContainer hook. */
  hooks?: InitHooks | undefined;
  /** The container's own session keyring (linux/keyring.ts); absent with --no-new-keyring. */
  sessionKeyring?: { name: string; inUserNamespace: boolean } | undefined;
}

/** The hooks that involve the init (container/hooks.ts says where each kind runs and why). */
export interface InitHooks {
  /**
   * prestart or createRuntime hooks exist: before pivot_root the init sends 'hooks' and waits
   * for 'hooks-done' while `tsrunc create` runs them in the runtime namespace.
   */
  runtimeHooks: boolean;
  createContainer: Hook[];
  startContainer: Hook[];
  /** The state passed to the hooks; `tsrunc create` fills in the init's host pid. */
  state: HookState;
}

/**
 * `tsrunc exec`: the same init program, spawned into the container's namespaces (all but
 * mount), runs only the process part: it joins the mount namespace itself (node must be
 * exec'd from the host's root), then sets up the process and execs it. No rootfs, no fifo.
 */
export interface ExecPlan {
  kind: 'exec';
  /** /proc/<init pid>/ns/mnt, or undefined when the container has no mount namespace. */
  mountNamespace: string | undefined;
  /** The rootfs to chroot into when the container has no mount namespace (it only chroots). */
  chroot: string | undefined;
  process: ProcessPlan;
  console?: ConsolePlan | undefined;
  /** As InitPlan.consoleSocketFd. */
  consoleSocketFd?: number | undefined;
  preserveFds: number;
}
