/**
 * process.terminal: a pty pair from the container's own devpts instance, the master sent to
 * the manager over --console-socket (SCM_RIGHTS, with "/dev/ptmx" as the message, as runc
 * does), the slave made the container process's controlling terminal and its fds 0-2.
 *
 * tsrunc connects to the socket on the host (the stage could not reach its path from inside
 * the container, nor an unprivileged container root at all) and hands it to the stage, which
 * makes the pair once the container's root is in place (its /dev/ptmx is pts/ptmx of the
 * container's devpts), as runc does: after the mounts, before the process is set up.
 */
import type { ConsolePlan } from '../plan/types.js';
import type { Slot, SlotAllocator, StageOp } from '../plan/ops.js';
import { connectUnix } from './scm-rights.js';

export type { ConsolePlan };

export function connectConsoleSocket(plan: ConsolePlan): number {
  return connectUnix(plan.socket, `connecting to the console socket ${plan.socket}`);
}

/**
 * The pty, made and sent over `socket`; the slave becomes the controlling terminal (the stage
 * is a session leader by then) and fds 0-2. `devConsole`: also bind-mounted on /dev/console
 * (a container's init, not an exec).
 */
export function consoleOps(plan: ConsolePlan, socket: Slot, devConsole: boolean, slots: SlotAllocator): StageOp[] {
  const step = 'setting up the terminal';
  const slave = slots.take();
  return [
    { op: 'pty', label: step, socket, rows: plan.rows, cols: plan.cols, devConsole, into: slave },
    { op: 'set-ctty', label: `${step}: making the pty the controlling terminal`, fd: slave },
    ...[0, 1, 2].map((fd): StageOp => ({ op: 'dup-onto', label: `${step}: pty on fd ${fd}`, fd: slave, target: fd })),
    { op: 'close', label: step, fd: slave },
  ];
}
