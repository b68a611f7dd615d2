/**
 * OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): run a hook list in order, each
 * with the container's state JSON on stdin, its own argv and environment, and its timeout.
 *
 * Used by `tsrunc create`, `start` and `delete`; the hooks that run in the container's namespaces
 * (createContainer, startContainer) are run by the native stage (compile-process.ts hookOps,
 * runtime/native/hook.c), with the same error messages. This file loads nothing but errors.ts
 * (and node:child_process when a hook actually runs).
 *
 * Where each kind runs (config.md, runtime.md "Lifecycle"):
 * - prestart, createRuntime: "path MUST resolve in the runtime namespace", "MUST be executed
 *   in the runtime namespace", during create "after the runtime environment has been created
 *   ... but before the pivot_root": by `tsrunc create`, when the init reports that its mounts
 *   are done (channel.ts: 'hooks' / 'hooks-done').
 * - createContainer: "path MUST resolve in the runtime namespace", "MUST be executed in the
 *   container namespace", after createRuntime and before pivot_root: by the stage, before
 *   pivot_root, where the host's filesystem is still its root.
 * - startContainer: "path MUST resolve in the container namespace", "MUST be executed in the
 *   container namespace", before the user program runs: by the stage after `start` released it.
 * - poststart: runtime namespace, after the user program was executed and before start
 *   returns: by `tsrunc start`. poststop: runtime namespace, after the container is deleted
 *   and before delete returns: by `tsrunc delete`.
 * A failing prestart/createRuntime/createContainer/startContainer hook is an error (the
 * container is stopped and destroyed); poststart and poststop failures are warnings only.
 */
import nodeModule from 'node:module';
import type { SpawnSyncReturns } from 'node:child_process';
import { TsruncError } from '../errors.js';
import type { Hook, HookState } from '../plan/types.js';

export type { Hook, HookState };

type ChildProcessModule = typeof import('node:child_process');
let childProcess: ChildProcessModule | undefined;
/** node:child_process costs every command (and every init) 3-5 ms: loaded only to run a hook. */
function spawnSync(...args: Parameters<ChildProcessModule['spawnSync']>): SpawnSyncReturns<Buffer> {
  childProcess ??= nodeModule.createRequire(import.meta.url)('node:child_process') as ChildProcessModule;
  return childProcess.spawnSync(...args) as SpawnSyncReturns<Buffer>;
}

export const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

export type Hooks = Partial<Record<HookKind, readonly Hook[]>>;

/** What a hook leaves in an error message: the tail of its stderr, on one line. */
const OUTPUT_SHOWN = 300;
const MAX_BUFFER = 1024 * 1024;

/** The state of a container as hooks see it; annotations only when there are some (as `state`). */
export function hookState(
  source: { ociVersion: string; id: string; pid: number; bundle: string; annotations?: Record<string, string> | undefined },
  status: HookState['status'],
): HookState {
  const state: HookState = { ociVersion: source.ociVersion, id: source.id, status, pid: source.pid, bundle: source.bundle };
  if (source.annotations && Object.keys(source.annotations).length > 0) state.annotations = source.annotations;
  return state;
}

export class HookError extends TsruncError {
  override name = 'HookError';
}

/** Checks, before anything exists, that every hook names an absolute path (config.md). */
export function checkHooks(hooks: Hooks | undefined): void {
  for (const kind of HOOK_KINDS) {
    (hooks?.[kind] ?? []).forEach((hook, index) => {
      if (!hook.path.startsWith('/')) {
        throw new TsruncError(`config.json: /hooks/${kind}/${index}/path: "${hook.path}" is not an absolute path`);
      }
    });
  }
}

export function hookCount(hooks: Hooks | undefined, ...kinds: HookKind[]): number {
  return kinds.reduce((sum, kind) => sum + (hooks?.[kind]?.length ?? 0), 0);
}

function environment(env: readonly string[]): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = {};
  for (const entry of env) {
    const equals = entry.indexOf('=');
    if (equals > 0) result[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return result;
}

function oneLine(output: Buffer | string | null | undefined): string {
  const text = (output ?? '').toString().trim().replace(/\s*\n\s*/g, '; ');
  return text.length > OUTPUT_SHOWN ? `...${text.slice(-OUTPUT_SHOWN)}` : text;
}

/** Runs one hook; returns undefined on success, else why it failed. */
export function runHook(hook: Hook, state: HookState): string | undefined {
  const args = hook.args ?? [];
  let result: SpawnSyncReturns<Buffer>;
  try {
    result = spawnSync(hook.path, args.slice(1), {
      argv0: args[0] ?? hook.path,
      // Exactly the hook's env, as runc does: nothing of tsrunc's (or the init's) environment.
      env: environment(hook.env ?? []),
      input: JSON.stringify(state),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: hook.timeout !== undefined ? hook.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
      maxBuffer: MAX_BUFFER,
    });
  } catch (error) {
    return `cannot run it: ${(error as Error).message}`; // e.g. a NUL byte in args or env
  }
  const stderr = oneLine(result.stderr);
  const detail = stderr ? ` (stderr: ${stderr})` : '';
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') return `timed out after ${hook.timeout}s and was killed${detail}`;
    // EPIPE: the hook exited without reading its stdin; its exit status decides.
    if (code !== 'EPIPE' && code !== 'ENOBUFS') return `cannot run it: ${code ?? result.error.message}`;
  }
  if (result.signal) return `killed by ${result.signal}${detail}`;
  if (result.status !== 0) return `exit status ${result.status}${detail}`;
  return undefined;
}

/** "error running hook #N" as runc words it (its tests and users grep for it), with the kind and path added. */
function failureLine(kind: HookKind, index: number, hook: Hook, failure: string): string {
  return `error running hook #${index} (${kind}, ${hook.path}): ${failure}`;
}

/** Runs the hooks of one kind in order; the first failure throws a HookError naming it. */
export function runHooks(kind: HookKind, hooks: readonly Hook[] | undefined, state: HookState): void {
  (hooks ?? []).forEach((hook, index) => {
    const failure = runHook(hook, state);
    if (failure !== undefined) throw new HookError(failureLine(kind, index, hook, failure));
  });
}

/**
 * poststart and poststop: "the runtime MUST log a warning, but the remaining hooks and
 * lifecycle continue as if the hook had succeeded" (runtime.md, Lifecycle steps 9 and 13).
 */
export function runHooksWarnOnly(kind: HookKind, hooks: readonly Hook[] | undefined, state: HookState, warn: (message: string) => void): void {
  (hooks ?? []).forEach((hook, index) => {
    const failure = runHook(hook, state);
    if (failure !== undefined) warn(failureLine(kind, index, hook, failure));
  });
}
