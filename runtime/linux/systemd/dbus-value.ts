/**
 * The D-Bus values tsrunc sends to systemd, typed by their signature, and a unit property
 * (name + variant value). A leaf module: the property planner builds these and the sd-bus
 * binding writes them, without either knowing the other.
 */

export type DbusValue =
  | { type: 's' | 'o'; value: string }
  | { type: 'b'; value: boolean }
  | { type: 'i' | 'u'; value: number }
  | { type: 'x' | 't'; value: bigint }
  | { type: 'd'; value: number }
  | { type: 'ay'; value: Uint8Array }
  | { type: 'au'; value: number[] }
  | { type: 'as'; value: string[] }
  | { type: 'a(ss)'; value: Array<[string, string]> };

export interface UnitProperty {
  name: string;
  value: DbusValue;
}

/** UINT64_MAX: systemd's "infinity" for MemoryMax, TasksMax, CPUQuotaPerSecUSec. */
export const DBUS_INFINITY = 0xffff_ffff_ffff_ffffn;

/** The value as `systemctl show` would print it, for explain and error messages. */
export function formatDbusValue(value: DbusValue): string {
  switch (value.type) {
    case 'ay':
      return `[${[...value.value].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ')}]`;
    case 'au':
    case 'as':
      return `[${value.value.join(' ')}]`;
    case 'a(ss)':
      return `[${value.value.map(([a, b]) => `${a} ${b}`).join(', ')}]`;
    case 'x':
    case 't':
      return value.value === DBUS_INFINITY && value.type === 't' ? 'infinity' : value.value.toString();
    default:
      return String(value.value);
  }
}
