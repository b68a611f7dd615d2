/**
 * The container process as stage operations, for a container's init and for `tsrunc exec`
 * alike: first what can fail at create (limits, cwd, user, capabilities, finding the
 * executable), then, after start, what happens right before the exec (labels, signals, fds,
 * seccomp). Everything runs in the container's root.
 */
import { execAttributeOps, finalAffinityOps } from '../linux/sched.js';
import path from 'node:path';
import type { Hook, HookState, ProcessPlan } from '../plan/types.js';
import type { Slot, SlotAllocator, StageOp } from '../plan/ops.js';
import { TsruncError } from '../errors.js';
import { boundingSetOps, capabilitySetOps } from '../linux/capabilities.js';
import { makedev } from '../linux/devices.js';
import { O_DIRECTORY, O_PATH } from '../linux/libc.js';
import { lsmOps } from '../linux/lsm.js';
import { rlimitOps } from '../linux/rlimits.js';
import { seccompOps, type BuiltSeccomp } from '../linux/seccomp.js';

const PR_SET_NO_NEW_PRIVS = 38;
const DEFAULT_UMASK = 0o022;

export interface ProcessContext {
  slots: SlotAllocator;
  /** The kernel's highest capability (the stage runs on this kernel). */
  lastCap: number;
  seccomp: BuiltSeccomp | undefined;
  /** setgroups is "deny" in the user namespace (its maps were written without privilege). */
  setgroupsDenied: boolean;
}

/** Where execve looks for args[0], as Go's LookPath does for runc: a path as it is, a name in PATH. */
export function executableCandidates(file: string, env: readonly string[], cwd: string): { candidates: string[]; notFound: string } {
  if (file.includes('/')) {
    return { candidates: [path.posix.resolve(cwd, file)], notFound: `exec: ${file}: no such executable file in the container` };
  }
  const pathVariable = env.find((entry) => entry.startsWith('PATH='))?.slice(5) ?? '';
  const candidates = pathVariable.split(':').filter((dir) => dir !== '').map((dir) => path.posix.join(dir, file));
  return { candidates, notFound: `exec: "${file}": executable file not found in $PATH (${pathVariable || 'PATH is not set'})` };
}

/**
 * Limits, cwd, user, capabilities, the executable: done before the container counts as created,
 * so that their errors are create's (as runc looks the executable up before it waits for start).
 */
export function processSetupOps(proc: ProcessPlan, context: ProcessContext): StageOp[] {
  const { slots, lastCap } = context;
  const ops: StageOp[] = [...rlimitOps(proc.rlimits, 'setting rlimits'), ...execAttributeOps(proc.attributes)];
  if (!path.posix.isAbsolute(proc.cwd)) throw new TsruncError(`cwd: "${proc.cwd}" is not an absolute path`);
  // Resolved inside the container's root, magic links refused: a cwd of /proc/self/fd/N cannot
  // reach anything the stage holds (CVE-2024-21626). Created where missing, as runc does.
  const root = slots.take();
  const cwd = slots.take();
  const cwdLabel = `entering cwd ${proc.cwd}`;
  ops.push(
    { op: 'open', label: cwdLabel, dir: null, path: '/', flags: O_PATH | O_DIRECTORY, mode: 0, into: root },
    { op: 'open-in-root', label: cwdLabel, root, path: proc.cwd, create: 'directory', into: cwd, check: null },
    { op: 'fchdir', label: cwdLabel, fd: cwd },
    { op: 'close', label: cwdLabel, fd: cwd },
    { op: 'close', label: cwdLabel, fd: root },
  );
  // Without noNewPrivileges, seccomp.ts may keep CAP_SYS_ADMIN until its filter is loaded.
  const capabilities = context.seccomp ? context.seccomp.capabilities : proc.capabilities;
  if (capabilities) ops.push(...boundingSetOps(capabilities, lastCap, 'changing user'));
  // fds 0-2 to the process's user, so that it can reopen them (/dev/stdout) as it can with runc.
  // (runc hands them to root too; root needs no such help, so tsrunc leaves them as they are.)
  if (proc.uid !== 0) ops.push({ op: 'chown-stdio', label: 'changing user: handing stdio to the process user', uid: proc.uid, nullRdev: makedev(1, 3) });
  if (!context.setgroupsDenied) {
    ops.push({ op: 'setgroups', label: 'changing user: setting additional groups', gids: [...proc.additionalGids], ignoreDenied: false });
  } else if (proc.additionalGids.length > 0) {
    throw new TsruncError(`process.user.additionalGids: setgroups is denied in this user namespace (its maps were written without privilege), so ${proc.additionalGids.join(',')} cannot be set`);
  }
  ops.push(
    { op: 'setresgid', label: `changing user: setting gid ${proc.gid}`, gid: proc.gid },
    { op: 'setresuid', label: `changing user: setting uid ${proc.uid}`, uid: proc.uid },
  );
  if (capabilities) ops.push(...capabilitySetOps(capabilities, lastCap, 'setting capabilities'));
  if (proc.noNewPrivileges) ops.push({ op: 'prctl', label: 'setting noNewPrivileges', option: PR_SET_NO_NEW_PRIVS, args: [1] });
  ops.push({ op: 'umask', label: 'setting the umask', mask: proc.umask ?? DEFAULT_UMASK });
  const { candidates, notFound } = executableCandidates(proc.args[0]!, proc.env, proc.cwd);
  ops.push({ op: 'find-executable', label: 'looking up the executable', candidates, notFound });
  // HOME from the container's /etc/passwd when the config does not set it, as runc does.
  if (!proc.env.some((entry) => entry.startsWith('HOME='))) {
    ops.push({ op: 'home-from-passwd', label: 'looking up HOME', uid: proc.uid, passwd: '/etc/passwd' });
  }
  return ops;
}

export interface ExecFds {
  /** The slots of the fds the program gets at 3.. */
  passed: Slot[];
  /** The seccomp listener's socket, connected by tsrunc. */
  listenerSocket: Slot | null;
  /** The process's pid as tsrunc sees it (for the seccomp listener). */
  pid: number;
}

/**
 * Right before the exec: labels, default signals, the program's fds, seccomp; then `lastOps`
 * (the startContainer hooks), confined as the process will be, as runc runs them: a hook's
 * path resolves in the container, so it may be the image's own program.
 */
export function processExecOps(proc: ProcessPlan, context: ProcessContext, fds: ExecFds, lastOps: StageOp[] = []): StageOp[] {
  const ops: StageOp[] = [
    ...lsmOps(proc.lsm),
    { op: 'reset-signals', label: 'resetting signal dispositions' },
    { op: 'place-fds', label: 'preparing stdio', fds: [0, 1, 2, ...fds.passed] },
    ...finalAffinityOps(proc.attributes),
  ];
  if (context.seccomp) ops.push(...seccompOps(context.seccomp, fds.listenerSocket, fds.pid, context.slots));
  ops.push(...lastOps);
  ops.push({ op: 'exec', label: 'executing the container process', path: null, args: [...proc.args], env: [...proc.env], addHome: !proc.env.some((e) => e.startsWith('HOME=')) });
  return ops;
}

/**
 * The hooks of one kind, run by the stage in the container's namespaces. A hook with an `env`
 * gets exactly that; one without gets `inherited` (startContainer: the process's environment,
 * HOME included, as runc's init hands its own to the hooks it runs), else none.
 */
export function hookOps(kind: string, hooks: readonly Hook[], state: HookState, inherited?: readonly string[]): StageOp[] {
  return hooks.map((hook, index) => ({
    op: 'hook',
    label: `hook #${index} (${kind}, ${hook.path})`,
    path: hook.path,
    args: [...(hook.args ?? [])],
    env: [...(hook.env ?? inherited ?? [])],
    addHome: hook.env === undefined && inherited !== undefined && !inherited.some((entry) => entry.startsWith('HOME=')),
    stdin: JSON.stringify(state),
    timeoutSeconds: hook.timeout ?? 0,
  }));
}
