/**
 * Small helpers on top of harness.ts for tests that look inside real containers: run a
 * busybox shell script, read its "key=value" report, check a failed create left nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Test } from 'tap';
import { busyboxConfig, busyboxRootfs, mountsUnder, type JsonObject, type RunResult, type Sandbox } from './harness.js';

let runs = 0;

export interface ScriptOptions {
  /** As for busyboxConfig. */
  overrides?: JsonObject;
  /** Merged into config.process. */
  processFields?: JsonObject;
}

/** The config of a busybox container running `sh -c script`. */
export function scriptConfig(script: string, options: ScriptOptions = {}): JsonObject {
  return withProcess(busyboxConfig(['sh', '-c', script], options.overrides), options.processFields ?? {});
}

/** `tsrunc run` of `sh -c script` in a busybox container; `flags` go before --bundle (e.g. --no-pivot). */
export async function runScript(sandbox: Sandbox, script: string, options: ScriptOptions & { flags?: string[] } = {}): Promise<RunResult> {
  const bundle = sandbox.bundle(scriptConfig(script, options));
  return sandbox.tsrunc(['run', ...(options.flags ?? []), '--bundle', bundle, `c${++runs}`]);
}

/** A copy of `config` whose process has `fields` set on top of what it had. */
export function withProcess(config: JsonObject, fields: JsonObject): JsonObject {
  return { ...config, process: { ...(config['process'] as JsonObject), ...fields } };
}

/**
 * Lines "key=value" of a script's output as a record; other lines are ignored. A key seen
 * twice keeps the values joined by newlines, so a multi-line answer stays one entry.
 */
export function fields(stdout: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^([\w./-]+)=(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1]!;
    const value = match[2]!;
    found[key] = key in found ? `${found[key]}\n${value}` : value;
  }
  return found;
}

/** Asserts the container left nothing: no state directory, no process, no mount. */
export function assertNothingLeft(t: Test, sandbox: Sandbox): void {
  t.same(sandbox.leftovers(), [], 'no state directory left');
  t.same(sandbox.processes(), [], 'no process left');
  t.same(mountsUnder(sandbox.dir), [], 'no mount left on the host');
}

/** Cgroup directories anywhere under /sys/fs/cgroup whose name contains `name` (give containers a cgroupsPath to find them). */
export function cgroupsNamed(name: string): string[] {
  // find's status is ignored: other tests' cgroups come and go while it walks.
  const out = spawnSync('find', ['/sys/fs/cgroup', '-type', 'd', '-name', `*${name}*`], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line !== '');
}

/**
 * `tsrunc create` that must fail: exit status 1, one error line matching `expected`, and
 * nothing left behind.
 */
export async function expectCreateFailure(t: Test, sandbox: Sandbox, config: JsonObject, expected: RegExp): Promise<void> {
  const bundle = sandbox.bundle(config);
  const result = await sandbox.tsrunc(['create', '--bundle', bundle, `bad${++runs}`]);
  t.equal(result.status, 1, 'create exits with status 1');
  t.match(result.stderr.trim(), expected, 'the error names what is wrong');
  t.equal(result.stderr.trim().split('\n').length, 1, 'one error line');
  assertNothingLeft(t, sandbox);
}

/** A private copy of the busybox rootfs under the sandbox, for tests that change it. */
export function copyRootfs(sandbox: Sandbox, name = 'rootfs-copy'): string {
  const copy = path.join(sandbox.dir, name);
  execFileSync('cp', ['-a', busyboxRootfs, copy]);
  return copy;
}

/** The mask /proc/<pid>/status shows (CapEff etc.) for these capability numbers, as 16 hex digits. */
export function capabilityMask(numbers: readonly number[]): string {
  let mask = 0n;
  for (const n of numbers) mask |= 1n << BigInt(n);
  return mask.toString(16).padStart(16, '0');
}

/**
 * runc's no_pivot.bats ("runc run --no-pivot must not expose bare /proc"), with a harmless probe
 * in place of its `echo h > /proc/sysrq-trigger`: the kernel lets a process mount a new proc in a
 * user namespace of its own only while a fully visible proc is in its mount namespace. With
 * --no-pivot the host's /proc stayed there, outside the chroot; tsrunc now detaches it (or covers
 * it) before the move, as runc does. CAP_SETFCAP: mapping root in a new user namespace needs it
 * (Linux 5.12+); Docker's default capabilities have it.
 */
export const procProbe = [
  "unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED' 2>&1; echo probe=$?",
  // The root of each proc and sysfs mount this process can see: only the container's own.
  "grep -E ' - (proc|sysfs) ' /proc/self/mountinfo | awk '$4 == \"/\" { print \"full=\" $5 }'",
].join('\n');
const probeCaps = ['CAP_SETFCAP', 'CAP_KILL'];
export const probeCapabilities = { bounding: probeCaps, effective: probeCaps, permitted: probeCaps };
/** The container's own /proc and /sys, not fully visible (masked, as a default config has them). */
export const maskedProcSys = {
  maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'],
  readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
};
