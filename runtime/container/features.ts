/**
 * `tsrunc features` (runc's `runc features`; runtime-spec features.md): what this runtime
 * implements, as JSON. Every list is derived from the tables create itself uses, so that what
 * is listed is what create accepts.
 */
import { HOOK_KINDS } from './hooks.js';
import { knownMountOptions } from '../linux/mount-options.js';
import { capabilityNames } from '../linux/capabilities.js';
import { namespaceKinds } from '../linux/namespaces.js';
import type { NamespaceType } from '../plan/types.js';
import { IDMAP_OPTIONS } from '../linux/user-namespace-idmap.js';
import { apparmorEnabled, selinuxEnabled } from '../linux/lsm.js';
import { seccompFeatures, type SeccompFeatureList } from '../linux/seccomp.js';
import { SPEC_VERSION, TSRUNC_VERSION } from '../version.js';

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp: SeccompFeatureList;
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    netDevices: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

export async function features(): Promise<Features> {
  return {
    ociVersionMin: '1.0.0',
    // validate.ts accepts 1.0.0 to 1.3.x; 1.3.0 is the version tsrunc implements.
    ociVersionMax: SPEC_VERSION,
    hooks: [...HOOK_KINDS],
    mountOptions: [...knownMountOptions, ...IDMAP_OPTIONS].sort(),
    linux: {
      namespaces: (Object.keys(namespaceKinds) as NamespaceType[]).sort(),
      capabilities: [...capabilityNames],
      // Both cgroupfs drivers (cgroups/v1.ts, v2.ts) and the systemd one for root on v2 (cgroups/systemd.ts;
      // no user-session systemd); rdma limits are written on all.
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: true },
      seccomp: seccompFeatures(),
      apparmor: { enabled: apparmorEnabled() },
      selinux: { enabled: selinuxEnabled() },
      intelRdt: { enabled: false },
      // linux.netDevices: moved in at create through rtnetlink (linux/net-devices.ts).
      netDevices: { enabled: true },
      // idmap/ridmap bind mounts (linux/user-namespace-idmap.ts; mount_setattr, Linux 5.12+).
      mountExtensions: { idmap: { enabled: true } },
    },
    annotations: { 'io.github.tsrunc.version': TSRUNC_VERSION },
  };
}
