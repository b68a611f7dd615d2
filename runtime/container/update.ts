/**
 * `tsrunc update`: change a live container's resource limits, from a JSON file (or stdin) in
 * linux.resources form and/or runc's individual flags, then keep the result in state.json so
 * later commands see the limits in force.
 */
import fs from 'node:fs';
import type { OciResources } from '../spec/config.js';
import { validateConfig } from '../spec/validate.js';
import { TsruncError } from '../errors.js';
import { openContainer, writeState } from './state-store.js';
import { containerStatus } from './status.js';
import { cgroupOf } from './cgroup-of.js';
import { parseBytes } from './units.js';

/** runc update's flags; each one, when given, overrides the file and the current value. */
export interface UpdateFlags {
  resources?: string;
  blkioWeight?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShare?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: number;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else in `over` replaces what is in `base`. */
function merge(base: JsonObject, over: JsonObject): JsonObject {
  const result: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = result[key];
    result[key] = isObject(current) && isObject(value) ? merge(current, value) : value;
  }
  return result;
}

/**
 * runc: `--memory -1` without a swap value lifts the memory+swap limit too. The merged config
 * would keep the old swap, and the kernel (v1) refuses memory above memory+swap; the planners
 * turn the missing swap into "unlimited" where the kernel accounts swap.
 */
export function liftSwapWithMemory(merged: JsonObject, update: JsonObject): JsonObject {
  const memory = update['memory'];
  const mergedMemory = merged['memory'];
  if (!isObject(memory) || memory['limit'] !== -1 || memory['swap'] !== undefined || !isObject(mergedMemory)) return merged;
  const { swap: _dropped, ...rest } = mergedMemory;
  return { ...merged, memory: rest };
}

function readResourcesFile(file: string): JsonObject {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new TsruncError(`update --resources: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isObject(parsed)) throw new Error('not a JSON object');
    return parsed;
  } catch (error) {
    throw new TsruncError(`update --resources: ${file}: invalid JSON: ${(error as Error).message}`);
  }
}

/** Pure: the flags as a linux.resources fragment. */
export function resourcesFromFlags(flags: UpdateFlags): JsonObject {
  const drop = (o: JsonObject): JsonObject => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const fragment: JsonObject = {
    cpu: drop({
      shares: flags.cpuShare,
      quota: flags.cpuQuota,
      period: flags.cpuPeriod,
      realtimeRuntime: flags.cpuRtRuntime,
      realtimePeriod: flags.cpuRtPeriod,
      cpus: flags.cpusetCpus,
      mems: flags.cpusetMems,
    }),
    memory: drop({
      limit: flags.memory === undefined ? undefined : parseBytes(flags.memory, '--memory'),
      reservation: flags.memoryReservation === undefined ? undefined : parseBytes(flags.memoryReservation, '--memory-reservation'),
      swap: flags.memorySwap === undefined ? undefined : parseBytes(flags.memorySwap, '--memory-swap'),
    }),
    blockIO: drop({ weight: flags.blkioWeight }),
    pids: drop({ limit: flags.pidsLimit }),
  };
  return Object.fromEntries(Object.entries(fragment).filter(([, v]) => isObject(v) && Object.keys(v).length > 0));
}

export function updateContainer(root: string, id: string, flags: UpdateFlags): void {
  const { lock, state } = openContainer(root, id);
  try {
    const status = containerStatus(state, lock.dir);
    if (status === 'stopped') throw new TsruncError(`cannot update container ${id}: it is stopped`);
    const current = (state.config.linux?.resources ?? {}) as JsonObject;
    const fromFile = flags.resources !== undefined ? readResourcesFile(flags.resources) : {};
    const update = merge(fromFile, resourcesFromFlags(flags));
    const merged = liftSwapWithMemory(merge(current, update), update);
    // Checked as part of the whole config, so a bad value gets its JSON path.
    const config = validateConfig({ ...state.config, linux: { ...state.config.linux, resources: merged } }, 'update');
    const resources = config.linux?.resources as OciResources;
    cgroupOf(state, 'update', root).apply(resources);
    writeState(lock.dir, { ...state, config });
  } finally {
    lock.release();
  }
}
