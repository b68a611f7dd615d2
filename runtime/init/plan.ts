/**
 * What the parent (`tsrunc create`) sends the init: the config already validated and turned
 * into plain operations, so the init loads nothing but the modules that touch the kernel.
 */
import type { CapabilityPlan } from '../linux/capabilities.js';
import type { RlimitPlan } from '../linux/rlimits.js';
import type { SeccompPlan } from '../linux/seccomp.js';
import type { SysctlPlan } from '../linux/sysctl.js';
import type { LsmPlan } from '../linux/lsm.js';

export interface MountStep {
  source: string;
  destination: string;
  type: string;
  flags: number;
  propagation: number[];
  data: string;
  /** Index in config.json's mounts, for error messages. */
  index: number;
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
  rootfs: RootfsPlan;
  hostname: string | undefined;
  domainname: string | undefined;
  newCgroupNamespace: boolean;
  sysctl: SysctlPlan;
  /** Absent when config.json has no process: the container can be created, never started. */
  process: ProcessPlan | undefined;
}
