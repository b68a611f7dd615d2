/**
 * `tsrunc exec` as the native stage's program: join every namespace of the container (the user
 * namespace first), become root in it, clone the process (a pid namespace holds only
 * children), and set it up as the container's init sets up its own: session, keyring,
 * terminal, limits, user, capabilities, seccomp, exec.
 */
import type { ExecPlan } from '../plan/types.js';
import { SlotAllocator, type StageOp } from '../plan/ops.js';
import { FdTable, type FdSource } from '../plan/fd-table.js';
import { namespaceKinds } from '../linux/namespaces.js';
import { joinKeyringOp } from '../linux/keyring.js';
import { consoleOps } from '../linux/console.js';
import type { BuiltSeccomp } from '../linux/seccomp.js';
import { processExecOps, processSetupOps } from './compile-process.js';

const PR_SET_DUMPABLE = 4;

export interface ExecFacts {
  /** The process's pid as tsrunc sees it. */
  pid: number;
  setgroupsDenied: boolean;
}

export interface ExecProgram {
  fds: FdSource[];
  spawn: StageOp[];
  process(facts: ExecFacts): StageOp[];
}

export function compileExec(plan: ExecPlan, seccomp: BuiltSeccomp | undefined, lastCap: number): ExecProgram {
  const table = new FdTable([{ kind: 'stdio', fd: 0 }, { kind: 'stdio', fd: 1 }, { kind: 'stdio', fd: 2 }]);
  const passed = plan.passedFds.map((fd) => table.add({ kind: 'passed', fd }));
  const joins = plan.joins.map((join) => ({ ...join, slot: table.add({ kind: 'namespace', type: join.type, path: join.path }) }));
  const consoleSocket = plan.console ? table.add({ kind: 'console-socket', path: plan.console.socket }) : null;
  const listener = seccomp?.listener ? table.add({ kind: 'seccomp-listener', path: seccomp.listener.path }) : null;

  const spawn: StageOp[] = [
    { op: 'close-from', label: 'closing fds the stage was not given', first: table.entries.length },
    { op: 'prctl', label: 'making the stage non-dumpable', option: PR_SET_DUMPABLE, args: [0] },
  ];
  for (const join of joins) {
    spawn.push({ op: 'setns', label: `joining the container's ${join.type} namespace (${join.path})`, fd: join.slot, nstype: namespaceKinds[join.type].flag });
  }
  if (plan.chroot !== undefined) {
    spawn.push(
      { op: 'chroot', label: `entering the rootfs ${plan.chroot}`, path: plan.chroot },
      { op: 'chdir', label: 'entering the container root', path: '/' },
    );
  }
  if (joins.some((join) => join.type === 'user')) {
    const label = 'becoming root in the user namespace';
    spawn.push(
      { op: 'setgroups', label, gids: [], ignoreDenied: true },
      { op: 'setresgid', label, gid: 0 },
      { op: 'setresuid', label, uid: 0 },
    );
  }
  spawn.push({ op: 'clone-init', label: 'cloning the process' });

  const process = (facts: ExecFacts): StageOp[] => {
    const slots = new SlotAllocator();
    const ops: StageOp[] = [{ op: 'setsid', label: 'starting a new session' }];
    if (plan.sessionKeyring !== undefined) ops.push(joinKeyringOp(plan.sessionKeyring));
    const proc = plan.process;
    if (proc.oomScoreAdj !== undefined) {
      ops.push({ op: 'write-file', label: 'setting oomScoreAdj', dir: null, path: '/proc/self/oom_score_adj', data: `${proc.oomScoreAdj}`, flags: 0 });
    }
    if (plan.console && consoleSocket !== null) ops.push(...consoleOps(plan.console, consoleSocket, false, slots));
    const context = { slots, lastCap, seccomp, setgroupsDenied: facts.setgroupsDenied };
    ops.push(...processSetupOps(proc, context), ...processExecOps(proc, context, { passed, listenerSocket: listener, pid: facts.pid }));
    return ops;
  };
  return { fds: table.entries, spawn, process };
}
