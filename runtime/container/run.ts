/**
 * `tsrunc run`: create + start. Attached (the default), tsrunc stays the init's parent,
 * forwards signals to it, waits, deletes the container and exits with its status.
 */
import { constants } from 'node:os';
import { createContainer } from './create.js';
import { startContainer } from './start.js';
import { deleteContainer } from './delete.js';
import { withForegroundTerminal, type ForegroundTerminal } from './foreground-terminal.js';

export interface RunOptions {
  root: string;
  id: string;
  bundle: string | undefined;
  pidFile: string | undefined;
  noPivot: boolean;
  detach: boolean;
  consoleSocket?: string | undefined;
  preserveFds?: number | undefined;
  rootless?: 'true' | 'false' | 'auto' | undefined;
  noNewKeyring?: boolean | undefined;
  systemdCgroup?: boolean | undefined;
  /** --keep: leave the stopped container in place after it exits (attached). */
  keep?: boolean | undefined;
  /** --no-subreaper: do not become the subreaper of the container's orphaned processes. */
  noSubreaper?: boolean | undefined;
}

const PR_SET_CHILD_SUBREAPER = 36;

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Returns the exit status tsrunc should exit with. */
export async function runContainer(options: RunOptions): Promise<number> {
  return withForegroundTerminal(options, (terminal) => runWith(options, terminal));
}

async function runWith(options: RunOptions, terminal: ForegroundTerminal | undefined): Promise<number> {
  // Processes the container leaves behind (without a PID namespace of its own) come to
  // tsrunc rather than to the host's init while it waits, as with runc.
  if (!options.detach && !options.noSubreaper) {
    const { prctl } = await import('../linux/libc.js');
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 'becoming the subreaper of the container');
  }
  const created = await createContainer({
    ...options, keepChild: !options.detach, foregroundConsole: terminal && (() => terminal.listen()),
  });
  let relayed: Promise<void> | undefined;
  try {
    // Before start where the pty is there already, so that its settings (ONLCR) hold before the
    // process writes. A stage that waits for start before its root changes with no proc on the
    // new root makes it only after: then it is queued by the time start returns (exec.fifo
    // closes at the stage's execve, after the pty was sent).
    if (!created.terminalAfterStart) terminal?.receive();
    startContainer(options.root, options.id);
    if (created.terminalAfterStart) terminal?.receive();
  } catch (error) {
    deleteContainer(options.root, options.id, true);
    throw error;
  }
  if (options.detach) return 0;
  if (terminal?.received) relayed = terminal.relay();

  const { child } = created;
  const forward = (signal: NodeJS.Signals) => {
    // With a terminal, window size changes go to the pty (the kernel tells the container).
    if (signal === 'SIGWINCH' && relayed) return;
    try {
      process.kill(created.pid, signal);
    } catch {
      // the container is already gone
    }
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const status = await new Promise<number>((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null) =>
      resolve(signal ? 128 + (constants.signals[signal] ?? 0) : code ?? 0);
    if (child.exitCode !== null || child.signalCode !== null) settle(child.exitCode, child.signalCode);
    else child.once('exit', settle);
  });
  for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  // The last output may still be in the pty after the process exited.
  if (relayed) await relayed;
  if (!options.keep) deleteContainer(options.root, options.id, true);
  return status;
}
