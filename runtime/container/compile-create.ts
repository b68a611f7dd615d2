/**
 * A container's plan (plan-init.ts) as the native stage's program: the fds it starts with, the
 * first batch, which makes or joins the namespaces in tsrunc's place and clones the init, and
 * the rest, once the init exists. Pure: `tsrunc create` sends exactly this, and a test can
 * print it.
 *
 * The order of the first batch is the kernel's: every namespace is joined first, the user
 * namespace before the rest (they may belong to it); then one unshare makes the new ones (a
 * new user namespace first, by the kernel, so that it owns the others); tsrunc writes its id
 * maps meanwhile; the stage becomes root in it; the init is cloned last, because a new or
 * joined pid namespace (and a time namespace) holds only children.
 */
import path from 'node:path';
import type { ContainerPlan } from '../plan/types.js';
import { SlotAllocator, type Slot, type StageOp } from '../plan/ops.js';
import { FdTable, type FdSource } from '../plan/fd-table.js';
import { CLONE_NEWCGROUP, CLONE_NEWUSER, namespaceKinds } from '../linux/namespaces.js';
import { keyringOp } from '../linux/keyring.js';
import { sysctlOps } from '../linux/sysctl.js';
import { devReadonlyOps, rootfsOps } from '../linux/rootfs.js';
import { consoleOps } from '../linux/console.js';
import type { MountDestination } from '../linux/paths.js';
import type { BuiltSeccomp } from '../linux/seccomp.js';
import { hookOps, processExecOps, processSetupOps } from './compile-process.js';
import { EXEC_FIFO } from './state-files.js';

const PR_SET_DUMPABLE = 4;

/** What only the running init can tell: its pid, and its own view of mounts and cgroups. */
export interface InitFacts {
  /** The init's pid as tsrunc sees it. */
  pid: number;
  /** /proc/PID/mountinfo and /proc/PID/cgroup of the init. */
  mountinfo: string;
  cgroup: string;
  /** /proc/PID/setgroups says "deny" (a user namespace whose maps an unprivileged writer made). */
  setgroupsDenied: boolean;
}

export interface InitBatch {
  ops: StageOp[];
  /** Mount destinations tsrunc judges again if the stage resolves them elsewhere (open-in-root's check ids). */
  checks: MountDestination[];
}

export interface CreateProgram {
  /** The stage's fds: entry i is its fd i. */
  fds: FdSource[];
  /** The first batch: from tsrunc's namespaces into the container's, ending with the init's clone. */
  spawn: StageOp[];
  init(facts: InitFacts): InitBatch;
}

function becomeRootOps(): StageOp[] {
  const label = 'becoming root in the user namespace';
  return [
    // Drops the host's supplementary groups; refused (and not needed) where setgroups is "deny".
    { op: 'setgroups', label, gids: [], ignoreDenied: true },
    { op: 'setresgid', label, gid: 0 },
    { op: 'setresuid', label, uid: 0 },
  ];
}

export function compileCreate(plan: ContainerPlan, seccomp: BuiltSeccomp | undefined, lastCap: number): CreateProgram {
  // With a terminal the pty becomes the process's stdio, so the init must not hold tsrunc's (runc
  // gives it /dev/null): containerd's shim reads create's output until EOF.
  const stdio: FdSource = { kind: 'null' };
  const table = new FdTable(plan.console ? [stdio, stdio, stdio] : [{ kind: 'stdio', fd: 0 }, { kind: 'stdio', fd: 1 }, { kind: 'stdio', fd: 2 }]);
  const passed = plan.passedFds.map((fd) => table.add({ kind: 'passed', fd }));
  const namespaces = plan.namespaces;
  const joins = namespaces.joins.map((join) => ({ ...join, slot: table.add({ kind: 'namespace', type: join.type, path: join.path }) }));
  const trees = new Map<number, Slot>();
  for (const mount of plan.rootfs.mounts) {
    if (mount.detached) trees.set(mount.index, table.add({ kind: 'mount-tree', index: mount.index }));
  }
  const consoleSocket = plan.console ? table.add({ kind: 'console-socket', path: plan.console.socket }) : null;
  const fifo = table.add({ kind: 'exec-fifo', path: path.join(plan.stateDir, EXEC_FIFO) });
  const listener = seccomp?.listener ? table.add({ kind: 'seccomp-listener', path: seccomp.listener.path }) : null;

  const newUser = (namespaces.unshareFlags & CLONE_NEWUSER) !== 0;
  const joinsUser = joins.some((join) => join.type === 'user');
  // An unprivileged tsrunc writes the id maps of a dumpable process only (proc(5)): then the
  // stage stops being dumpable once they are written, before anything of the container exists.
  const dumpableFirst = plan.runtimeIsRoot || !newUser;
  const notDumpable: StageOp = { op: 'prctl', label: 'making the stage non-dumpable', option: PR_SET_DUMPABLE, args: [0] };
  const spawn: StageOp[] = [{ op: 'close-from', label: 'closing fds the stage was not given', first: table.entries.length }];
  if (dumpableFirst) spawn.push(notDumpable);
  for (const join of [...joins.filter((j) => j.type === 'user'), ...joins.filter((j) => j.type !== 'user')]) {
    spawn.push({ op: 'setns', label: `joining the ${join.type} namespace ${join.path}`, fd: join.slot, nstype: namespaceKinds[join.type].flag });
  }
  if (plan.rootfs.rootfsAtCwd) spawn.push({ op: 'chdir', label: `entering rootfs ${plan.rootfs.rootfs}`, path: plan.rootfs.rootfs });
  if (namespaces.unshareFlags !== 0) spawn.push({ op: 'unshare', label: 'creating namespaces', flags: namespaces.unshareFlags });
  if (newUser) {
    spawn.push({ op: 'send', label: 'asking for the id maps', message: { type: 'userns' } }, { op: 'await', label: 'waiting for the id maps' });
  }
  if (newUser || joinsUser) spawn.push(...becomeRootOps());
  if (!dumpableFirst) spawn.push(notDumpable);
  if (namespaces.timeOffsets) {
    const data = namespaces.timeOffsets.map((offset) => `${offset.clock} ${offset.secs} ${offset.nanosecs}\n`).join('');
    spawn.push({ op: 'write-file', label: 'setting the time namespace offsets (/linux/timeOffsets)', dir: null, path: '/proc/self/timens_offsets', data, flags: 0 });
  }
  spawn.push({ op: 'clone-init', label: 'cloning the init' });

  const init = (facts: InitFacts): InitBatch => {
    const slots = new SlotAllocator();
    const checks: MountDestination[] = [];
    const ops: StageOp[] = [{ op: 'setsid', label: 'starting a new session' }];
    if (plan.sessionKeyring) ops.push(keyringOp(plan.sessionKeyring.name, plan.sessionKeyring.inUserNamespace));
    const proc = plan.process;
    if (proc?.oomScoreAdj !== undefined) {
      ops.push({ op: 'write-file', label: 'setting oomScoreAdj', dir: null, path: '/proc/self/oom_score_adj', data: `${proc.oomScoreAdj}`, flags: 0 });
    }
    // Through the host's /proc, which shows the stage's own namespaces (sysctl.ts).
    ops.push(...sysctlOps(plan.sysctl));

    const hookState = plan.hooks && { ...plan.hooks.state, pid: facts.pid, status: 'created' as const };
    const ready: StageOp[] = [
      { op: 'send', label: 'telling tsrunc the container is created', message: { type: 'ready' } },
      // Until tsrunc has written state.json: if it dies first, EOF here ends the init.
      { op: 'await', label: 'waiting for tsrunc to record the container' },
      { op: 'wait-start', label: 'waiting for start', fifo },
    ];
    const waitEarly = waitsForStartBeforeRoot(plan);
    const beforePivot: StageOp[] = [];
    if (plan.hooks?.runtimeHooks) {
      // runtime.md Lifecycle steps 3 and 4, run by tsrunc in the runtime namespace.
      beforePivot.push({ op: 'send', label: 'asking for the prestart and createRuntime hooks', message: { type: 'hooks' } }, { op: 'await', label: 'waiting for the prestart and createRuntime hooks' });
    }
    if (plan.hooks && hookState) beforePivot.push(...hookOps('createContainer', plan.hooks.createContainer, hookState));
    // No mount namespace: no devpts of the container's; the pty comes from the host's (the one
    // the container shares), before the chroot.
    const consoleBeforeRoot = plan.console && consoleSocket !== null && plan.rootfs.chrootOnly;
    if (consoleBeforeRoot) beforePivot.push(...consoleOps(plan.console!, consoleSocket, false, slots));
    if (waitEarly) beforePivot.push(...ready);
    ops.push(...rootfsOps(plan.rootfs, { slots, checks, trees, mountinfo: facts.mountinfo, cgroup: facts.cgroup, beforePivot }));

    if (namespaces.newCgroupNamespace) {
      // After the rootfs: its cgroup mounts bind this process's cgroups as the host names them,
      // which /proc/self/cgroup stops showing once the namespace exists. tsrunc has already
      // moved the stage into the container's cgroup, which becomes the namespace's root.
      ops.push({ op: 'unshare', label: 'creating the cgroup namespace', flags: CLONE_NEWCGROUP });
    }
    if (plan.hostname !== undefined) ops.push({ op: 'sethostname', label: `setting the hostname ${plan.hostname}`, name: plan.hostname });
    if (plan.domainname !== undefined) ops.push({ op: 'setdomainname', label: `setting the domainname ${plan.domainname}`, name: plan.domainname });
    if (plan.console && consoleSocket !== null && !consoleBeforeRoot) ops.push(...consoleOps(plan.console, consoleSocket, true, slots));
    ops.push(...devReadonlyOps(plan.rootfs));

    const context = { slots, lastCap, seccomp, setgroupsDenied: facts.setgroupsDenied };
    if (proc) ops.push(...processSetupOps(proc, context));
    if (!waitEarly) ops.push(...ready);
    // runtime.md Lifecycle step 7; config.md: resolves and runs in the container namespace.
    const startHooks = plan.hooks && hookState ? hookOps('startContainer', plan.hooks.startContainer, hookState, proc?.env) : [];
    if (!proc) {
      ops.push(...startHooks, { op: 'fail', label: 'starting', message: 'config.json has no process to start' });
    } else {
      ops.push(...processExecOps(proc, context, { passed, listenerSocket: listener, pid: facts.pid }, startHooks));
    }
    return { ops, checks };
  };

  return { fds: table.entries, spawn, init };
}

/** exec.fifo is reopened through /proc/self/fd: without a proc on the new root, before the root changes. */
function waitsForStartBeforeRoot(plan: ContainerPlan): boolean {
  return plan.rootfs.chrootOnly || !plan.rootfs.procMounted;
}

/**
 * Whether the stage sends the pty master only after `start`: it waits for start before the root
 * changes, and the pty comes from the container's devpts, after it (without a mount namespace
 * it comes from the host's, before the wait).
 */
export function terminalAfterStart(plan: ContainerPlan): boolean {
  return plan.console !== undefined && waitsForStartBeforeRoot(plan) && !plan.rootfs.chrootOnly;
}
