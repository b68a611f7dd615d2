/**
 * The systemd cgroup driver (`--systemd-cgroup`), cgroup v2: the container's cgroup is a
 * transient scope systemd makes, with Delegate=yes, in the slice cgroupsPath names. systemd
 * needs the scope's first process when it makes it, so the scope starts in join(), with the
 * stage's pid; create() makes nothing, and limits applied before join() are kept and sent with
 * the scope's start, so it never runs unlimited. Limits go to systemd as unit properties (so `systemctl`
 * shows them and systemd keeps them) and to the scope's files (for what systemd has no property
 * for), as runc does. Freezing, pids, stats and exec's join work on the scope's cgroup
 * directly, through the v2 manager; removing the cgroup means stopping the unit.
 */
import fs from 'node:fs';
import { TsruncError } from '../../errors.js';
import { logWarning } from '../../log.js';
import type { OciResources } from '../../spec/config.js';
import { SystemdManager, describeProperties } from '../systemd/systemd-manager.js';
import { formatDbusValue, type UnitProperty } from '../systemd/dbus-value.js';
import { resourceProperties, scopeProperties, type DeviceLookup } from '../systemd/unit-properties.js';
import type { SystemdUnitName } from '../systemd/unit-name.js';
import type { DeviceRule } from './devices-v1.js';
import type { CgroupManager, CgroupPaths, CgroupStats, OomWatcher, PlannedCgroupWrite } from './manager.js';
import { CgroupV2Manager } from './v2.js';

export interface SystemdManagerOptions {
  /** The container id, for the scope's Description. */
  id: string;
  /** Set by a manager built from config.json: sent at the first apply(), as the v2 driver does. */
  deviceRules?: DeviceRule[];
  /** org.systemd.property.* annotations, sent with the scope's own properties. */
  extraProperties?: UnitProperty[];
  /** Whether the scope exists already (a manager rebuilt from state.json). */
  started: boolean;
}

/** /proc/devices and /dev for the DeviceAllow translation. */
const hostDevices: DeviceLookup = {
  group(type, major) {
    let text: string;
    try {
      text = fs.readFileSync('/proc/devices', 'utf8');
    } catch {
      return undefined;
    }
    let section: 'c' | 'b' | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith('Character devices:')) section = 'c';
      else if (line.startsWith('Block devices:')) section = 'b';
      else if (section === type) {
        const match = /^\s*(\d+)\s+(\S+)/.exec(line);
        if (match && Number(match[1]) === major) return `${type === 'c' ? 'char' : 'block'}-${match[2]}`;
      }
    }
    return undefined;
  },
  exists: (path) => fs.existsSync(path) || fs.existsSync(`/sys${path}`),
};

export class SystemdCgroupManager implements CgroupManager {
  readonly paths: CgroupPaths;
  readonly systemdScope: { unit: string; slice: string };
  private connection: SystemdManager | undefined;
  private started: boolean;
  private devicesSent = false;
  /** Limits applied before the scope exists: sent when join() starts it. */
  private pending: OciResources | undefined;

  constructor(
    readonly scope: SystemdUnitName,
    private readonly files: CgroupV2Manager,
    private readonly options: SystemdManagerOptions,
  ) {
    this.paths = files.paths;
    this.systemdScope = { unit: scope.unit, slice: scope.slice };
    this.started = options.started;
  }

  /** The unit this manager drives ("tsrunc-<id>.scope"). */
  get unit(): string {
    return this.scope.unit;
  }

  private systemd(): SystemdManager {
    this.connection ??= SystemdManager.connect();
    return this.connection;
  }

  create(): void {
    // The scope is made in join(): systemd wants its first process at once.
  }

  private properties(resources: OciResources): UnitProperty[] {
    const rules = this.devicesSent ? undefined : this.options.deviceRules;
    const { properties, warnings } = resourceProperties(resources, rules, hostDevices);
    for (const warning of warnings) logWarning(warning);
    return properties;
  }

  plan(resources: OciResources): PlannedCgroupWrite[] {
    const unitWrites = this.properties(resources).map((p) => ({ dir: `systemd unit ${this.unit}`, file: p.name, value: formatDbusValue(p.value) }));
    return [...unitWrites, ...this.files.plan(resources)];
  }

  apply(resources: OciResources): void {
    if (!this.started) {
      this.pending = { ...this.pending, ...resources };
      return;
    }
    const properties = this.properties(resources);
    this.devicesSent = true;
    this.systemd().setProperties(this.unit, properties);
    this.files.apply(resources);
    this.close();
  }

  join(pid: number): void {
    if (this.started) {
      this.files.join(pid);
      return;
    }
    const limits = this.pending ?? {};
    const properties = [
      ...scopeProperties(this.scope, pid, this.options.id),
      ...this.properties(limits),
      ...(this.options.extraProperties ?? []),
    ];
    this.devicesSent = true;
    const systemd = this.systemd();
    systemd.resetFailed(this.unit);
    systemd.startTransientScope(this.unit, properties);
    this.started = true;
    if (!fs.existsSync(this.files.dir)) {
      throw new TsruncError(`systemd: ${this.unit} is active but its cgroup is not at ${this.files.dir} (slice ${this.scope.slice}): ${describeProperties(properties)}`);
    }
    // Every controller enabled down to the scope, as the v2 driver does for a directory of its own.
    this.files.create();
    this.files.apply(limits);
    this.pending = undefined;
    this.close();
  }

  pids(): number[] {
    return fs.existsSync(this.files.dir) ? this.files.pids() : [];
  }

  freeze(): void {
    this.files.freeze();
  }

  thaw(): void {
    this.files.thaw();
  }

  isFrozen(): boolean {
    return this.files.isFrozen();
  }

  stats(): CgroupStats {
    return this.files.stats();
  }

  watchOom(): OomWatcher {
    return this.files.watchOom();
  }

  /** Stops the scope (systemd removes its cgroup), then removes what may be left below it. */
  destroy(): void {
    // A create that failed before join() made no unit.
    if (!this.started) return;
    try {
      this.systemd().stopUnit(this.unit);
    } finally {
      this.close();
    }
    this.files.destroy();
  }

  private close(): void {
    this.connection?.close();
    this.connection = undefined;
  }
}
