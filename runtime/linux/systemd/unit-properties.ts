/**
 * What tsrunc asks systemd for (pure): the transient scope's own properties, linux.resources
 * as the unit properties systemd knows, and `org.systemd.property.*` annotations. The choice
 * of properties and their conversions are runc's (libcontainer/cgroups/systemd), so a scope
 * made by tsrunc looks to `systemctl` as runc's does. systemd writes these to the scope's
 * cgroup files; tsrunc then writes every limit to the files itself as well (runc does the
 * same), so a resource systemd has no property for is applied all the same.
 */
import { TsruncError } from '../../errors.js';
import type { OciResources } from '../../spec/config.js';
import { blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2 } from '../cgroups/resources-v2.js';
import type { DeviceRule } from '../cgroups/devices-v1.js';
import { parseListFormat } from '../sched.js';
import { DBUS_INFINITY, type DbusValue, type UnitProperty } from './dbus-value.js';
import type { SystemdUnitName } from './unit-name.js';

const prop = (name: string, value: DbusValue): UnitProperty => ({ name, value });
const u64 = (n: number | bigint): DbusValue => ({ type: 't', value: BigInt(n) });
const DEFAULT_CPU_PERIOD = 100_000;

/** The scope itself: where it goes, the first process, delegation and accounting (runc's set). */
export function scopeProperties(unit: SystemdUnitName, pid: number, id: string): UnitProperty[] {
  return [
    prop('Description', { type: 's', value: `tsrunc container ${id}` }),
    prop('Slice', { type: 's', value: unit.slice }),
    // The container's runtime owns the cgroup below the scope (nested cgroups, its own device filter).
    prop('Delegate', { type: 'b', value: true }),
    prop('PIDs', { type: 'au', value: [pid] }),
    prop('MemoryAccounting', { type: 'b', value: true }),
    prop('CPUAccounting', { type: 'b', value: true }),
    prop('IOAccounting', { type: 'b', value: true }),
    prop('TasksAccounting', { type: 'b', value: true }),
    // No ordering against shutdown.target & co: the container's lifetime is its manager's business.
    prop('DefaultDependencies', { type: 'b', value: false }),
  ];
}

/** "0-2,7" → systemd's AllowedCPUs/AllowedMemoryNodes bitmask: byte i holds CPUs 8i..8i+7. */
export function listToBitmask(list: string, where: string, what: string): Uint8Array {
  const numbers = parseListFormat(list, where, what);
  const mask = new Uint8Array(numbers.length === 0 ? 0 : Math.floor(numbers[numbers.length - 1]! / 8) + 1);
  for (const n of numbers) mask[n >> 3]! |= 1 << (n & 7);
  return mask;
}

/** runc's addCpuQuota: CPUQuotaPerSecUSec rounded up to systemd's 10 ms steps, and the period. */
function cpuQuotaProperties(quota: number, period: number): UnitProperty[] {
  const properties: UnitProperty[] = [];
  if (period !== 0) properties.push(prop('CPUQuotaPeriodUSec', u64(period)));
  if (quota !== 0 || period !== 0) {
    let perSec = DBUS_INFINITY;
    if (quota > 0) {
      let usec = BigInt(Math.floor((quota * 1_000_000) / (period || DEFAULT_CPU_PERIOD)));
      if (usec % 10_000n !== 0n) usec = (usec / 10_000n + 1n) * 10_000n;
      perSec = usec;
    }
    properties.push(prop('CPUQuotaPerSecUSec', u64(perSec)));
  }
  return properties;
}

/** The environment the device rules are translated in: /proc/devices groups, device nodes. */
export interface DeviceLookup {
  /** systemd's group name for a major ("char-pts"), from /proc/devices; undefined when none. */
  group(type: 'c' | 'b', major: number): string | undefined;
  /** Whether /dev/char/M:m (or /sys/dev/char/M:m) exists: systemd refuses entries it cannot stat. */
  exists(path: string): boolean;
}

/**
 * Device rules as DevicePolicy + DeviceAllow, in rule order: "a *:*" allow or deny resets the
 * policy, an allow adds its entry, a deny removes an earlier equal allow. What systemd cannot
 * express (a deny inside an allowed group, "*:n") is left out with a warning: tsrunc's own eBPF
 * filter on the scope still enforces every rule, so leaving an entry out only loosens the
 * second, systemd's, filter (never the container's limits).
 */
export function deviceProperties(rules: readonly DeviceRule[], lookup: DeviceLookup, warnings: string[]): UnitProperty[] {
  let policy: 'strict' | 'auto' = 'strict';
  let allowed = new Map<string, string>();
  for (const rule of rules) {
    if (rule.type === 'a' && rule.major === -1 && rule.minor === -1) {
      policy = rule.allow ? 'auto' : 'strict';
      allowed = new Map();
      continue;
    }
    const types: Array<'c' | 'b'> = rule.type === 'a' ? ['c', 'b'] : [rule.type];
    for (const type of types) {
      const kind = type === 'c' ? 'char' : 'block';
      let entry: string | undefined;
      if (rule.major === -1) {
        if (rule.minor !== -1) {
          warnings.push(`systemd: device rule ${type} *:${rule.minor} has no DeviceAllow form; left to tsrunc's own device filter`);
          continue;
        }
        entry = `${kind}-*`;
      } else if (rule.minor === -1) {
        const group = lookup.group(type, rule.major);
        if (group === undefined) {
          warnings.push(`systemd: no /proc/devices group for ${kind} major ${rule.major}; left to tsrunc's own device filter`);
          continue;
        }
        entry = group;
      } else {
        entry = `/dev/${kind}/${rule.major}:${rule.minor}`;
        if (!lookup.exists(entry)) continue; // systemd would refuse it: the device is not on this host
      }
      if (rule.allow) {
        if (policy === 'strict') allowed.set(entry, rule.access);
      } else if (allowed.has(entry)) {
        allowed.delete(entry);
      } else if (policy === 'auto' || [...allowed.keys()].some((key) => !key.startsWith('/dev/'))) {
        warnings.push(`systemd: cannot deny ${entry} inside a wider allowed set; left to tsrunc's own device filter`);
      }
    }
  }
  return [
    prop('DevicePolicy', { type: 's', value: policy }),
    prop('DeviceAllow', { type: 'a(ss)', value: policy === 'auto' ? [] : [...allowed.entries()] }),
  ];
}

/** runc's unifiedResToSystemdProps: the linux.resources.unified keys systemd has a property for. */
function unifiedProperties(unified: Record<string, string>): UnitProperty[] {
  const properties: UnitProperty[] = [];
  const where = (key: string) => `/linux/resources/unified/${key}`;
  const number = (key: string, text: string): bigint => {
    if (text === 'max') return DBUS_INFINITY;
    if (!/^\d+$/.test(text)) throw new TsruncError(`config.json: ${where(key)}: "${text}" is not a number or "max"`);
    return BigInt(text);
  };
  const memory: Record<string, string> = {
    'memory.high': 'MemoryHigh', 'memory.low': 'MemoryLow', 'memory.min': 'MemoryMin', 'memory.max': 'MemoryMax', 'memory.swap.max': 'MemorySwapMax',
  };
  for (const [key, raw] of Object.entries(unified)) {
    const value = raw.trim();
    if (memory[key]) properties.push(prop(memory[key], u64(number(key, value))));
    else if (key === 'pids.max') properties.push(prop('TasksMax', u64(number(key, value))));
    else if (key === 'cpu.weight') properties.push(prop('CPUWeight', u64(number(key, value))));
    else if (key === 'cpuset.cpus') properties.push(prop('AllowedCPUs', { type: 'ay', value: listToBitmask(value, where(key), 'CPU') }));
    else if (key === 'cpuset.mems') properties.push(prop('AllowedMemoryNodes', { type: 'ay', value: listToBitmask(value, where(key), 'memory node') }));
    else if (key === 'cpu.max') {
      const [quota, period, extra] = value.split(/\s+/);
      if (quota === undefined || extra !== undefined) throw new TsruncError(`config.json: ${where(key)}: "${value}" is not "QUOTA [PERIOD]"`);
      const quotaNumber = quota === 'max' ? 0 : Number(number(key, quota));
      properties.push(...cpuQuotaProperties(quotaNumber, period === undefined ? DEFAULT_CPU_PERIOD : Number(number(key, period))));
    }
    // Any other key has no property: it is written to the scope's file only.
  }
  return properties;
}

/** linux.resources as unit properties (v2 names), plus the device rules when given. */
export function resourceProperties(
  resources: OciResources, rules: readonly DeviceRule[] | undefined, lookup: DeviceLookup,
): { properties: UnitProperty[]; warnings: string[] } {
  const warnings: string[] = [];
  const properties: UnitProperty[] = rules ? deviceProperties(rules, lookup, warnings) : [];
  const memory = resources.memory;
  if (memory) {
    const limit = memory.limit ?? 0;
    if (limit !== 0) properties.push(prop('MemoryMax', u64(limit === -1 ? DBUS_INFINITY : BigInt(limit))));
    if ((memory.reservation ?? 0) > 0) properties.push(prop('MemoryLow', u64(memory.reservation!)));
    const swap = memorySwapToV2(memory.swap ?? 0, limit);
    // swap equal to the limit is "no swap": sent as 0 (runc leaves it out, and systemd's
    // infinity would come back over the file at systemd's next reload).
    if (swap !== 0 || (memory.swap ?? 0) !== 0) properties.push(prop('MemorySwapMax', u64(swap === -1 ? DBUS_INFINITY : BigInt(swap))));
  }
  const cpu = resources.cpu;
  if (cpu) {
    const weight = cpuSharesToWeight(cpu.shares ?? 0);
    if (weight !== 0) properties.push(prop('CPUWeight', u64(weight)));
    properties.push(...cpuQuotaProperties(cpu.quota ?? 0, cpu.period ?? 0));
    if (cpu.cpus) properties.push(prop('AllowedCPUs', { type: 'ay', value: listToBitmask(cpu.cpus, '/linux/resources/cpu/cpus', 'CPU') }));
    if (cpu.mems) properties.push(prop('AllowedMemoryNodes', { type: 'ay', value: listToBitmask(cpu.mems, '/linux/resources/cpu/mems', 'memory node') }));
  }
  const limit = resources.pids?.limit;
  if (limit !== undefined && (limit > 0 || limit === -1)) properties.push(prop('TasksMax', u64(limit === -1 ? DBUS_INFINITY : BigInt(limit))));
  const ioWeight = blkioWeightToIoWeight(resources.blockIO?.weight ?? 0);
  if (ioWeight !== 0) properties.push(prop('IOWeight', u64(ioWeight)));
  if (resources.unified) properties.push(...unifiedProperties(resources.unified));
  return { properties, warnings };
}

const ANNOTATION_PREFIX = 'org.systemd.property.';

/**
 * The value of an `org.systemd.property.*` annotation, in the GVariant text form runc reads
 * (`true`, `'text'`, `uint64 1024`, `@t 1024`, `['a', 'b']`); a bare integer is int32 and a
 * bare decimal a double, as in GVariant.
 */
export function parseVariantText(text: string): DbusValue | undefined {
  const value = text.trim();
  if (value === 'true' || value === 'false') return { type: 'b', value: value === 'true' };
  const quoted = /^(['"])(.*)\1$/s.exec(value);
  if (quoted) return { type: 's', value: quoted[2]! };
  const typed = /^(?:(uint64|int64|uint32|int32|double|boolean|string)|@([tuxidbs]))\s+(.+)$/s.exec(value);
  if (typed) {
    const code = typed[2] ?? { uint64: 't', int64: 'x', uint32: 'u', int32: 'i', double: 'd', boolean: 'b', string: 's' }[typed[1]!]!;
    const inner = parseVariantText(typed[3]!);
    if (!inner) return undefined;
    if (code === 'b' || code === 's') return inner.type === code ? inner : undefined;
    if (inner.type !== 'i' && inner.type !== 'd' && inner.type !== 'x') return undefined;
    const n = inner.value;
    if (code === 'd') return { type: 'd', value: Number(n) };
    if (inner.type === 'd' && !Number.isInteger(n)) return undefined;
    const big = BigInt(n);
    if (code === 't' || code === 'x') return code === 't' && big < 0n ? undefined : { type: code, value: big };
    const num = Number(big);
    if (code === 'u' ? num < 0 || num > 0xffff_ffff : num < -0x8000_0000 || num > 0x7fff_ffff) return undefined;
    return { type: code as 'u' | 'i', value: num };
  }
  if (/^-?\d+$/.test(value)) {
    const big = BigInt(value);
    // An integer GVariant cannot hold as int32 is kept wide; `uint64 N` says it explicitly.
    return big >= -0x8000_0000n && big <= 0x7fff_ffffn ? { type: 'i', value: Number(big) } : { type: 'x', value: big };
  }
  if (/^-?\d*\.\d+(e-?\d+)?$/i.test(value)) return { type: 'd', value: Number(value) };
  const list = /^\[(.*)\]$/s.exec(value);
  if (list) {
    const items = list[1]!.trim() === '' ? [] : list[1]!.split(',').map((item) => parseVariantText(item));
    if (items.every((item): item is { type: 's'; value: string } => item?.type === 's')) return { type: 'as', value: items.map((item) => item.value) };
  }
  return undefined;
}

/**
 * `org.systemd.property.NAME` annotations as properties (runc's initSystemdProps): NAME is
 * letters only; a NAME ending in a lowercase letter + "Sec" takes seconds and is sent as the
 * USec property systemd has ("TimeoutStopSec" → "TimeoutStopUSec").
 */
export function annotationProperties(annotations: Record<string, string> | undefined): UnitProperty[] {
  const properties: UnitProperty[] = [];
  for (const [key, text] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const where = `config.json: /annotations/${key}`;
    let name = key.slice(ANNOTATION_PREFIX.length);
    if (!/^[A-Za-z]{3,}$/.test(name)) throw new TsruncError(`${where}: "${name}" is not a systemd property name (letters only, at least 3)`);
    let value = parseVariantText(text);
    if (!value) throw new TsruncError(`${where}: "${text}" is not a value tsrunc can send (true/false, 'text', a number, "uint64 N", ['a', 'b'])`);
    if (/[a-z]Sec$/.test(name)) {
      if (value.type !== 'i' && value.type !== 'u' && value.type !== 'x' && value.type !== 't' && value.type !== 'd') {
        throw new TsruncError(`${where}: "${text}" must be a number of seconds`);
      }
      const seconds = Number(value.value);
      if (seconds < 0) throw new TsruncError(`${where}: "${text}" must not be negative`);
      name = `${name.slice(0, -'Sec'.length)}USec`;
      value = { type: 't', value: BigInt(Math.round(seconds * 1_000_000)) };
    }
    properties.push({ name, value });
  }
  return properties;
}
