/**
 * The calls tsrunc makes on systemd's manager object (org.freedesktop.systemd1.Manager) to
 * make, change and remove a transient scope, and the waiting for their jobs. A job is waited
 * for by polling the unit's ActiveState rather than subscribing to JobRemoved: a single-shot
 * command has nothing else to do meanwhile, and a poll needs no signal match on the bus.
 */
import fs from 'node:fs';
import { TsruncError } from '../../errors.js';
import { pollUntil } from '../wait.js';
import { DbusCallError, SdBus, type MessageWriter } from './sd-bus.js';
import { formatDbusValue, type UnitProperty } from './dbus-value.js';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
/** runc waits as long for systemd to make or remove a unit. */
const JOB_TIMEOUT_MS = 30_000;

/** Whether systemd is this host's init (runc's test: /run/systemd/system is a directory). */
export function isSystemdRunning(): boolean {
  try {
    return fs.lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

/** systemd's object path of a unit: "/org/freedesktop/systemd1/unit/" + the name, bus-escaped. */
export function unitObjectPath(unit: string): string {
  let escaped = '';
  for (const byte of Buffer.from(unit)) {
    const ch = String.fromCharCode(byte);
    escaped += /[A-Za-z0-9]/.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return `/org/freedesktop/systemd1/unit/${escaped}`;
}

function writeProperties(writer: MessageWriter, properties: readonly UnitProperty[]): void {
  writer.container('a', '(sv)', () => {
    for (const property of properties) {
      writer.container('r', 'sv', () => {
        writer.basic('s', property.name);
        writer.variant(property.value);
      });
    }
  });
}

/** A one-line summary of properties, for error messages and --debug. */
export function describeProperties(properties: readonly UnitProperty[]): string {
  return properties.map((p) => `${p.name}=${formatDbusValue(p.value)}`).join(' ');
}

export class SystemdManager {
  private constructor(private readonly bus: SdBus) {}

  static connect(): SystemdManager {
    return new SystemdManager(SdBus.connect());
  }

  close(): void {
    this.bus.close();
  }

  private managerCall(member: string, args: (writer: MessageWriter) => void, reads?: 'o' | 's'): string | undefined {
    return this.bus.call({ destination: SYSTEMD, path: MANAGER_PATH, iface: MANAGER_IFACE, member, args }, reads);
  }

  activeState(unit: string): string {
    return this.bus.getStringProperty(SYSTEMD, unitObjectPath(unit), UNIT_IFACE, 'ActiveState');
  }

  /** Forgets a failed unit of that name, so the name can be used again; no error if there is none. */
  resetFailed(unit: string): void {
    try {
      this.managerCall('ResetFailedUnit', (w) => w.basic('s', unit));
    } catch (error) {
      if (!(error instanceof DbusCallError)) throw error;
    }
  }

  /**
   * Starts the transient scope and waits until it is active (its first process moved into its
   * cgroup). A unit that fails to start is reset, so the next create can use the name.
   */
  startTransientScope(unit: string, properties: readonly UnitProperty[]): void {
    try {
      this.managerCall('StartTransientUnit', (w) => {
        w.basic('s', unit);
        w.basic('s', 'replace');
        writeProperties(w, properties);
        w.container('a', '(sa(sv))', () => undefined);
      }, 'o');
    } catch (error) {
      if (error instanceof DbusCallError && error.errorName === 'org.freedesktop.systemd1.UnitExists') {
        throw new TsruncError(`systemd: the unit ${unit} exists already: another container (or a leftover) uses this cgroupsPath; stop it (systemctl stop ${unit}) or choose another name`);
      }
      throw new TsruncError(`${(error as Error).message}; starting ${unit} with ${describeProperties(properties)}`);
    }
    let state = '';
    const started = pollUntil(() => {
      state = this.activeState(unit);
      return state === 'active' || state === 'failed';
    }, JOB_TIMEOUT_MS);
    if (state !== 'active') {
      this.resetFailed(unit);
      throw new TsruncError(`systemd: ${unit} did not become active (${started ? state : `still ${state} after ${JOB_TIMEOUT_MS / 1000}s`})`);
    }
  }

  /** SetUnitProperties with runtime=true: the change lasts until the unit goes (as runc's). */
  setProperties(unit: string, properties: readonly UnitProperty[]): void {
    if (properties.length === 0) return;
    try {
      this.managerCall('SetUnitProperties', (w) => {
        w.basic('s', unit);
        w.basic('b', true);
        writeProperties(w, properties);
      });
    } catch (error) {
      throw new TsruncError(`${(error as Error).message}; setting ${describeProperties(properties)} on ${unit}`);
    }
  }

  /**
   * Stops the unit and waits until it is gone or inactive; a unit systemd does not know (it
   * went when its last process exited) is already what stopping wants.
   */
  stopUnit(unit: string): void {
    try {
      this.managerCall('StopUnit', (w) => {
        w.basic('s', unit);
        w.basic('s', 'replace');
      }, 'o');
    } catch (error) {
      if (error instanceof DbusCallError && error.errorName === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw error;
    }
    let state = '';
    const stopped = pollUntil(() => {
      state = this.activeState(unit);
      return state === 'inactive' || state === 'failed';
    }, JOB_TIMEOUT_MS);
    if (!stopped) throw new TsruncError(`systemd: ${unit} did not stop within ${JOB_TIMEOUT_MS / 1000}s (still ${state})`);
    if (state === 'failed') this.resetFailed(unit);
  }
}
