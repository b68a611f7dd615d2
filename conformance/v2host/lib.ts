/**
 * What the v2-host tests share. These tests need a pure cgroup v2 host run by systemd: tools/vm/run.sh
 * boots one in a VM and runs every file of this directory there (`make test-vm`); the host suite
 * (tools/run-tests.sh) leaves them out, and on any other host they skip themselves.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { Sandbox, busyboxConfig, waitFor, type JsonObject, type RunResult } from '../lib/harness.js';

export { Sandbox, busyboxConfig, waitFor, type JsonObject, type RunResult };

const CGROUP2_SUPER_MAGIC = 0x63677270;
export const cgroupRoot = '/sys/fs/cgroup';

/**
 * false on a cgroup v2 host, else why not (tap's `skip` option): a test that ran against a v1 or
 * hybrid host would write to the wrong files and prove nothing.
 */
export function notV2Host(): false | string {
  let type: number;
  try {
    type = fs.statfsSync(cgroupRoot).type;
  } catch {
    return `${cgroupRoot} cannot be read: these tests need a cgroup v2 host (make test-vm)`;
  }
  if (type !== CGROUP2_SUPER_MAGIC) return `${cgroupRoot} is not cgroup2 (filesystem type 0x${type.toString(16)}): these tests need a cgroup v2 host, run them with make test-vm`;
  return false;
}

let serial = 0;
/** A cgroup name no other test (or test file running alongside) uses. */
export function uniqueName(label: string): string {
  return `tsrunc-v2test-${label}-${process.pid}-${++serial}`;
}

/** A busybox config running `args`, with linux.resources and (when given) linux.cgroupsPath set. */
export function limitedConfig(args: string[], resources: JsonObject, cgroupsPath?: string, extraMounts: JsonObject[] = []): JsonObject {
  const config = busyboxConfig(args);
  const linux: JsonObject = { ...(config['linux'] as JsonObject), resources };
  if (cgroupsPath !== undefined) linux['cgroupsPath'] = cgroupsPath;
  return { ...config, linux, mounts: [...(config['mounts'] as JsonObject[]), ...extraMounts] };
}

export interface SavedState {
  pid: number;
  cgroupPaths?: Record<string, string>;
}

export function savedState(sandbox: Sandbox, id: string): SavedState {
  return JSON.parse(fs.readFileSync(path.join(sandbox.root, id, 'state.json'), 'utf8')) as SavedState;
}

/** The container's cgroup directory on a v2 host: the one path tsrunc saved for it. */
export function cgroupOf(sandbox: Sandbox, id: string): string {
  const dir = savedState(sandbox, id).cgroupPaths?.[''];
  if (dir === undefined) throw new Error(`${id}: no unified cgroup path in its state.json`);
  return dir;
}

/** A cgroup file's contents without the final newline. */
export function readCgroup(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), 'utf8').trim();
}

/** `key value` lines of a cgroup file (memory.events, cgroup.events, cpu.stat) as numbers. */
export function readKeyed(dir: string, file: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of readCgroup(dir, file).split('\n')) {
    const [key, value] = line.split(' ');
    if (key !== undefined && value !== undefined) values[key] = Number(value);
  }
  return values;
}

/** Per tsrunc command: the harness's 30 s default is short for a VM whose host is busy too. */
export const slow = { timeoutMs: 120_000 };

export async function containerStatus(sandbox: Sandbox, id: string): Promise<string> {
  const result = await sandbox.tsrunc(['state', id], slow);
  return (JSON.parse(result.stdout) as { status: string }).status;
}

/** Creates and starts a container; its init's pid. Throws with tsrunc's output when either fails. */
export async function startContainer(sandbox: Sandbox, id: string, config: JsonObject): Promise<number> {
  const bundle = sandbox.bundle(config);
  const created = await sandbox.tsrunc(['create', '--bundle', bundle, id], { ...slow, outputFile: sandbox.outputOf(id) });
  if (created.status !== 0) throw new Error(`create ${id}: ${sandbox.output(id)}`);
  const started = await sandbox.tsrunc(['start', id], slow);
  if (started.status !== 0) throw new Error(`start ${id}: ${started.stderr}`);
  return savedState(sandbox, id).pid;
}

/** Cgroup directories under /sys/fs/cgroup whose name contains `name` (give containers a cgroupsPath to find them). */
export function cgroupsNamed(name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while we walk
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const child = path.join(dir, entry.name);
      if (entry.name.includes(name)) found.push(child);
      walk(child);
    }
  };
  walk(cgroupRoot);
  return found;
}

/** A test's teardown: removes (deepest first) whatever is left of cgroups named `name`. */
export function removeCgroups(name: string): void {
  for (const dir of cgroupsNamed(name).sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // still busy: the test's own leftover check reports it
    }
  }
}

/** A sandbox and a cgroup name, both cleaned up when the test ends. */
export function setup(t: Test, label: string): { sandbox: Sandbox; name: string } {
  const sandbox = new Sandbox();
  const name = uniqueName(label);
  t.teardown(async () => {
    await sandbox.cleanup();
    removeCgroups(name);
  });
  return { sandbox, name };
}

/** The device (MAJ:MIN) the root filesystem is on, for io.max lines. */
export function rootDevice(): string {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields[4] === '/') return fields[2]!;
  }
  throw new Error('no / in /proc/self/mountinfo');
}

/** Waits (VM speed: long) until `check` holds. */
export function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<boolean> {
  return waitFor(check, timeoutMs);
}
