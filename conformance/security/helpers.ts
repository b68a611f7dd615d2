/**
 * Helpers shared by the security tests, on top of conformance/lib: config edits, reading the
 * host's state before and after, and running tsrunc from inside a cgroup.
 */
import fs from 'node:fs';
import type { Test } from 'tap';
import { runCommand, tsruncMain, type JsonObject, type RunResult, type Sandbox } from '../lib/harness.js';

export const allNamespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }];
export const procMount = { destination: '/proc', type: 'proc', source: 'proc' };
export const devTmpfs = { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] };

/** `config` with `fields` merged into config.linux (namespaces default to all but user and cgroup). */
export function withLinux(config: JsonObject, fields: JsonObject): JsonObject {
  const linux = (config['linux'] as JsonObject | undefined) ?? {};
  return { ...config, linux: { namespaces: allNamespaces, ...linux, ...fields } };
}

/** The namespace list without these types. */
export function namespacesWithout(...types: string[]): JsonObject[] {
  return allNamespaces.filter((ns) => !types.includes(ns.type));
}

/** Reads a file of the host's /proc/sys (or any small text file), trimmed. */
export function hostValue(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

/** The host's values of these files, by file. */
export function hostValues(files: readonly string[]): Record<string, string> {
  return Object.fromEntries(files.map((file) => [file, hostValue(file)]));
}

/** Host paths that must never appear; removed afterwards should a test fail and make them. */
export function forbiddenHostPaths(t: Test, paths: readonly string[]): void {
  t.teardown(() => {
    for (const p of paths) {
      try {
        fs.rmSync(p, { recursive: true, force: true });
      } catch {
        // a mount there: leave it for the person reading the failure
      }
    }
  });
}

/** "key=value" for every line of /proc/self/mountinfo whose mount point is $1: its optional fields. */
export const propagationOf =
  'prop() { awk -v p="$1" \'$5==p { f=""; for (i=7; $i!="-"; i++) f=f" "$i; last=f } END { sub(/^ /, "", last); print last }\' /proc/self/mountinfo; }';

/**
 * Runs `tsrunc <args>` with `capability` (e.g. "mknod") dropped from the bounding set, through
 * util-linux's setpriv: the runtime and its init then run as a root without it.
 */
export function tsruncWithoutCapability(sandbox: Sandbox, capability: string, args: string[]): Promise<RunResult> {
  return runCommand('setpriv', ['--bounding-set', `-${capability}`, process.execPath, tsruncMain, '--root', sandbox.root, ...args]);
}
