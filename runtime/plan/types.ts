/**
 * The plan of a container, as tsrunc works it out of config.json before anything exists: plain
 * data, every config error already found. The planners (container/plan-init.ts and the plan*
 * functions in linux/) make it; the compilers (container/compile-*.ts with the *Ops functions in
 * linux/) turn it into the native stage's operations (ops.ts).
 *
 * A leaf module: everything that shares these types imports them from here.
 */

// ---------------------------------------------------------------------------------------------
// Namespaces and ids

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface UserNamespacePlan {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

/** linux.timeOffsets, for /proc/self/timens_offsets: clock name → offset. */
export interface TimeOffset {
  clock: 'monotonic' | 'boottime';
  secs: string;
  nanosecs: number;
}

export interface NamespacePlan {
  /** Namespaces created with one unshare() (the cgroup one is made later, by the init). */
  unshareFlags: number;
  /** Namespaces joined by path (setns), in config order. */
  joins: { type: NamespaceType; path: string }[];
  /** The cgroup namespace is made by the init itself, after it has joined its cgroup. */
  newCgroupNamespace: boolean;
  types: NamespaceType[];
  /** A new user namespace: the id maps tsrunc writes before the stage goes on. */
  user?: UserNamespacePlan | undefined;
  /** A new time namespace's offsets (linux.timeOffsets), written before any process is in it. */
  timeOffsets?: TimeOffset[] | undefined;
}

// ---------------------------------------------------------------------------------------------
// The process

export type CapabilitySetName = 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient';
export type CapabilityPlan = Record<CapabilitySetName, number[]>;

/** Decimal strings, because soft/hard are uint64 and JSON numbers lose precision past 2^53. */
export interface RlimitPlan {
  type: string;
  resource: number;
  soft: string;
  hard: string;
}

export interface LsmPlan {
  apparmorProfile: string | undefined;
  selinuxLabel: string | undefined;
}

export interface SeccompArgPlan {
  index: number;
  /** SCMP_CMP_* value. */
  op: number;
  /** uint64 as decimal text: JSON numbers stop being exact at 2^53. */
  value: string;
  valueTwo: string;
}

export interface SeccompRulePlan {
  /** JSON pointer of the syscalls entry, for errors ("/linux/seccomp/syscalls/3"). */
  path: string;
  names: string[];
  /** SCMP_ACT_* value, errno included. */
  action: number;
  /**
   * The argument conditions of each libseccomp rule made for every name: [] = one rule without
   * conditions; several sets when one argument index appears more than once (runc's split).
   */
  conditionSets: SeccompArgPlan[][];
}

/** What the listener's container state says about the container (runtime.md, "State"). */
export interface SeccompContainerInfo {
  ociVersion: string;
  id: string;
  bundle: string;
  annotations: Record<string, string>;
  /** 'created' (the default) for the container's process; `tsrunc exec` says 'running'. */
  status?: 'created' | 'running';
}

export interface SeccompPlan {
  defaultAction: number;
  /** Extra architectures; the native one is always in the filter. */
  architectures: { name: string; libseccomp: string; path: string }[];
  flags: {
    log: boolean;
    /** 'default': no flags field, so SPEC_ALLOW when supported (runc >= 1.2, crun). */
    specAllow: 'yes' | 'no' | 'default';
    waitKillableRecv: boolean;
    /** Accepted and not applied (seccomp.ts says why). */
    tsync: boolean;
  };
  rules: SeccompRulePlan[];
  /**
   * Names of the rules dropped for repeating the default action: they still count for the
   * largest syscall number of the -ENOSYS stub (linux/seccomp-enosys.ts), as in runc.
   */
  defaultActionNames: string[];
  /** Some rule is SCMP_ACT_NOTIFY: load with SECCOMP_FILTER_FLAG_NEW_LISTENER. */
  notify: boolean;
  /** Where the notify fd goes; only when notify. */
  listener?: { path: string; metadata?: string; container: SeccompContainerInfo };
}

/** Attributes the process inherits across execve (linux/sched.ts). */
export interface ExecAttributesPlan {
  scheduler?: { policy: number; flags: number; nice: number; priority: number; runtime: number; deadline: number; period: number };
  /** (class << 13) | level */
  ioPriority?: number;
  initialCpus?: number[];
  finalCpus?: number[];
  personality?: number;
  /** linux.memoryPolicy: set_mempolicy's mode (with its flags) and nodes. */
  memoryPolicy?: { mode: number; nodes: number[] };
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
  /** scheduler, ioPriority, execCPUAffinity, personality. */
  attributes: ExecAttributesPlan;
}

/** process.terminal with --console-socket. */
export interface ConsolePlan {
  /** Absolute host path of the manager's unix socket (--console-socket). */
  socket: string;
  /** process.consoleSize; 0 = leave the kernel's default. */
  rows: number;
  cols: number;
}

// ---------------------------------------------------------------------------------------------
// The root filesystem

export interface MountStep {
  source: string;
  destination: string;
  type: string;
  flags: number;
  propagation: number[];
  data: string;
  /** rro, rnosuid, ...: mount_setattr attributes for the mount and every mount below it, applied last. */
  recursive?: { set: number; clear: number } | undefined;
  /** tmpcopyup: a tmpfs that starts with a copy of what its directory held. */
  copyUp?: boolean | undefined;
  /** Index in config.json's mounts, for error messages. */
  index: number;
  /** A detached bind: whether its source is a directory (the mount point made is one, else a file). */
  sourceIsDirectory?: boolean | undefined;
  /** idmap/ridmap (or mount-level mappings): an idmapped bind mount (linux/user-namespace-idmap.ts). */
  idmap?: { recursive: boolean; uidMappings: IdMapping[]; gidMappings: IdMapping[] } | undefined;
  /**
   * `tsrunc create` makes this bind as a detached mount (open_tree), flags and propagation set,
   * and hands it to the stage, which only moves it into place (linux/user-namespace-mounts.ts).
   */
  detached?: boolean | undefined;
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
  /**
   * The /dev mount's flags when the config mounts it read-only: it is mounted writable, and made
   * read-only (a bind remount) once its nodes, symlinks and sub-mounts exist, as runc does.
   */
  devReadonlyFlags?: number | undefined;
  /** True when the config mounts nothing at /dev: tsrunc mounts a tmpfs there itself. */
  mountDefaultDev: boolean;
  /** False when /dev is a bind mount from the host: leave its nodes alone. */
  createDevices: boolean;
  devices: DeviceNode[];
  maskedPaths: string[];
  readonlyPaths: string[];
  /** linux.mountLabel, kept only where SELinux is enabled; context= on filesystem mounts. */
  mountLabel?: string | undefined;
  /**
   * The stage enters the rootfs (chdir) before it makes its mount namespace in a user
   * namespace, where it may not walk the host path any more: the rootfs is its working directory.
   */
  rootfsAtCwd: boolean;
  /** A proc filesystem will be on /proc in the container (the stage reopens exec.fifo through it). */
  procMounted: boolean;
}

/** One entry of linux.netDevices: a host network device moved into the container's new network namespace. */
export interface NetDevicePlan {
  /** Its name on the host (the entry's key). */
  hostName: string;
  /** Its name in the container: `name`, or the host's; may be a template ("eth%d"). */
  name: string;
  /** The entry's JSON path, for errors ("/linux/netDevices/eth1"). */
  path: string;
}

// ---------------------------------------------------------------------------------------------
// Hooks

export interface Hook {
  path: string;
  args?: readonly string[] | undefined;
  env?: readonly string[] | undefined;
  /** Seconds, > 0 (the schema enforces it). */
  timeout?: number | undefined;
}

/** The OCI state handed to hooks on stdin (runtime.md "State"). */
export interface HookState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  /** The init's pid as the host sees it. */
  pid: number;
  bundle: string;
  annotations?: Record<string, string> | undefined;
}

/** The hooks that involve the init (container/hooks.ts says where each kind runs and why). */
export interface InitHooks {
  /** prestart or createRuntime hooks exist: before pivot_root the stage asks `tsrunc create` to run them. */
  runtimeHooks: boolean;
  createContainer: Hook[];
  startContainer: Hook[];
  /** The state passed to the hooks; its pid is the init's, known once the stage cloned it. */
  state: HookState;
}

// ---------------------------------------------------------------------------------------------
// A whole container, and an exec into one

export interface ContainerPlan {
  containerId: string;
  /** The state directory (it holds exec.fifo). */
  stateDir: string;
  namespaces: NamespacePlan;
  rootfs: RootfsPlan;
  hostname: string | undefined;
  domainname: string | undefined;
  sysctl: [string, string][];
  /** linux.netDevices, in config order: moved in once the init (and its network namespace) exists. */
  netDevices: NetDevicePlan[];
  /** Absent when config.json has no process: the container can be created, never started. */
  process: ProcessPlan | undefined;
  console: ConsolePlan | undefined;
  /** tsrunc's fds the program gets at 3.. (--preserve-fds, LISTEN_FDS). */
  passedFds: number[];
  /** Absent when config.json has no prestart, createRuntime, createContainer or startContainer hook. */
  hooks: InitHooks | undefined;
  /** The container's own session keyring; absent with --no-new-keyring. */
  sessionKeyring: { name: string; inUserNamespace: boolean } | undefined;
  /** Whether tsrunc runs as root: it then hands a user namespace's init its mount sources by fd. */
  runtimeIsRoot: boolean;
}

/** `tsrunc exec`: a process joining a created or running container's namespaces. */
export interface ExecPlan {
  containerId: string;
  /** The container's namespaces as /proc/<init>/ns paths, user first. */
  joins: { type: NamespaceType; path: string }[];
  /** The rootfs to chroot into when the container has no mount namespace (it only chroots). */
  chroot: string | undefined;
  process: ProcessPlan;
  console: ConsolePlan | undefined;
  passedFds: number[];
  /** The container's session keyring, to join (absent when it was created with --no-new-keyring). */
  sessionKeyring: string | undefined;
}
