/**
 * `tsrunc spec --rootless`: the default config made runnable by an unprivileged user, as
 * `runc spec --rootless` makes it: a user namespace mapping only the caller's uid and gid to
 * root, no network namespace (such a user cannot set one up), /sys bound from the host
 * read-only (sysfs cannot be mounted there), no uid=/gid= mount options (unmapped ids) and no
 * cgroup resources (nothing may be delegated).
 */
import path from 'node:path';
import type { OciConfig } from './config.js';

export function toRootless(config: OciConfig, uid: number, gid: number): OciConfig {
  const linux = config.linux ?? {};
  const namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  const mounts = (config.mounts ?? []).map((mount) => {
    if (path.posix.normalize(mount.destination) === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    const options = mount.options?.filter((option) => !option.startsWith('uid=') && !option.startsWith('gid='));
    return options === undefined ? mount : { ...mount, options };
  });
  const { resources: _resources, ...rest } = linux;
  return {
    ...config,
    mounts,
    linux: {
      ...rest,
      namespaces: [...namespaces, { type: 'user' }],
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    },
  };
}
