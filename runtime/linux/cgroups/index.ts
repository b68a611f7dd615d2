/**
 * Building a CgroupManager: from config.json at create time, or from the paths saved in
 * state.json by every later command. The layout (v1/hybrid or v2) is detected here and
 * nowhere else.
 */
import { TsruncError } from '../../errors.js';
import type { OciConfig } from '../../spec/config.js';
import type { CgroupManager, CgroupPaths } from './manager.js';
import { detectLayout, ownCgroups } from './layout.js';
import { defaultCgroupsPath, resolveV1Paths, resolveV2Path } from './path.js';
import { deviceRules } from './devices-v1.js';
import { CgroupV1Manager } from './v1.js';
import { CgroupV2Manager } from './v2.js';
import { SystemdCgroupManager } from './systemd.js';
import { writeCgroupFile } from './files.js';
import { isSystemdRunning } from '../systemd/systemd-manager.js';
import { systemdUnitFor } from '../systemd/unit-name.js';
import { annotationProperties } from '../systemd/unit-properties.js';

export type { CgroupManager, CgroupPaths, CgroupStats, PlannedCgroupWrite } from './manager.js';
export { defaultCgroupsPath } from './path.js';
export { checkedCgroupPaths, savedCgroupProblem, type SavedCgroup, type SavedSystemdScope } from './saved.js';
import type { SavedSystemdScope } from './saved.js';

export interface ManagerForConfigOptions {
  /** The --root of this tsrunc: part of the default cgroup name when it is not /run/tsrunc. */
  stateRoot?: string;
  /** --systemd-cgroup: the cgroup is a transient scope systemd makes (systemd.ts). */
  systemd?: boolean;
}

/** The systemd driver's manager for a new container; refused where it cannot work. */
function systemdManagerForConfig(config: OciConfig, id: string, options: ManagerForConfigOptions): SystemdCgroupManager {
  if (!isSystemdRunning()) {
    throw new TsruncError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); drop the flag to manage cgroups through the cgroup filesystem');
  }
  const layout = detectLayout();
  if (layout.version !== 2) {
    throw new TsruncError('--systemd-cgroup: tsrunc drives systemd on cgroup v2 hosts only, and this host has cgroup v1; drop the flag to manage cgroups through the cgroup filesystem');
  }
  const scope = systemdUnitFor(config.linux?.cgroupsPath, defaultCgroupsPath(id, options.stateRoot));
  const mountPoint = layout.unified!.mountPoint;
  const rules = deviceRules(config);
  const files = new CgroupV2Manager(`${mountPoint}${scope.cgroup}`, { mountPoint, deviceRules: rules });
  return new SystemdCgroupManager(scope, files, { id, started: false, deviceRules: rules, extraProperties: annotationProperties(config.annotations) });
}

/**
 * The manager for a new container. Throws a TsruncError for a config that cannot work here
 * (a cgroupsPath naming the root cgroup, a malformed device rule, no devices controller)
 * before anything is made.
 */
export function cgroupManagerForConfig(config: OciConfig, id: string, options: ManagerForConfigOptions = {}): CgroupManager {
  if (options.systemd) return systemdManagerForConfig(config, id, options);
  const layout = detectLayout();
  const cgroupsPath = config.linux?.cgroupsPath || defaultCgroupsPath(id, options.stateRoot);
  const rules = deviceRules(config);
  const own = ownCgroups();
  if (layout.version === 2) {
    const mount = layout.unified!;
    return new CgroupV2Manager(resolveV2Path(mount, own.get(''), cgroupsPath), { mountPoint: mount.mountPoint, deviceRules: rules });
  }
  if (!layout.hierarchies.some((h) => h.controllers.includes('devices'))) {
    // As runc: without the devices controller a container could open every host device.
    throw new TsruncError('cgroup: this host mounts no devices cgroup controller (cgroup v1); refusing to run a container without device rules');
  }
  return new CgroupV1Manager(resolveV1Paths(layout, own, cgroupsPath), {
    deviceRules: rules,
    unifiedMountPoint: layout.unified?.mountPoint,
  });
}

/**
 * The manager of an existing container, from the paths its state.json keeps (and the scope,
 * when the systemd driver made its cgroup).
 */
export function cgroupManagerFromPaths(paths: CgroupPaths, systemd?: SavedSystemdScope): CgroupManager {
  const keys = Object.keys(paths);
  if (keys.length === 0) throw new TsruncError('cgroup: no cgroup paths saved for this container');
  if (systemd && paths[''] !== undefined) {
    const files = new CgroupV2Manager(paths['']!, { mountPoint: detectLayout().unified?.mountPoint ?? '/sys/fs/cgroup' });
    return new SystemdCgroupManager({ ...systemd, cgroup: '' }, files, { id: systemd.unit, started: true });
  }
  // Read from mountinfo only by the operations that need it (update, stats), not by delete or kill.
  let unifiedMount: { mountPoint: string | undefined } | undefined;
  const unifiedMountPoint = () => (unifiedMount ??= { mountPoint: detectLayout().unified?.mountPoint }).mountPoint;
  if (keys.length === 1 && keys[0] === '') {
    return new CgroupV2Manager(paths['']!, {
      get mountPoint() {
        return unifiedMountPoint() ?? '/sys/fs/cgroup';
      },
    });
  }
  return new CgroupV1Manager(paths, {
    get unifiedMountPoint() {
      return unifiedMountPoint();
    },
  });
}

/**
 * Sends `signal` to every process of the cgroup; returns the pids signalled (empty when
 * cgroup.kill did it). SIGKILL goes through cgroup.kill where the kernel has it (v2, and the
 * cgroup2 directory of a hybrid host, which holds the same processes); otherwise the cgroup is
 * frozen while its pids are listed and signalled, so nothing forks past the list (runc's
 * signalAllProcesses). A paused container stays paused, except after SIGKILL, which a frozen
 * v1 process only acts on once thawed.
 */
export function signalAllInCgroup(manager: CgroupManager, signal: number): number[] {
  const SIGKILL = 9;
  const unified = manager.paths[''];
  if (signal === SIGKILL && unified !== undefined) {
    try {
      writeCgroupFile(unified, 'cgroup.kill', '1');
      // A frozen v1 process acts on SIGKILL only once thawed (hybrid host, paused container).
      if (manager.isFrozen()) manager.thaw();
      return [];
    } catch {
      // no cgroup.kill (kernel < 5.14): the freezer way below
    }
  }
  let wasFrozen = false;
  let froze = false;
  try {
    wasFrozen = manager.isFrozen();
    if (!wasFrozen) {
      manager.freeze();
      froze = true;
    }
  } catch {
    // no freezer: signal without it
  }
  const pids = manager.pids();
  try {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
  } finally {
    if (froze || (wasFrozen && signal === SIGKILL)) {
      try {
        manager.thaw();
      } catch {
        // the signal is sent; a stuck freezer is reported by the next pause/resume
      }
    }
  }
  return pids;
}
