/**
 * `tsrunc run`: create + start. Attached (the default), tsrunc stays the init's parent,
 * forwards signals to it, waits, deletes the container and exits with its status.
 */
import { constants } from 'node:os';
import { createContainer } from './create.js';
import { startContainer } from './start.js';
import { deleteContainer } from './delete.js';

export interface RunOptions {
  root: string;
  id: string;
  bundle: string | undefined;
  pidFile: string | undefined;
  noPivot: boolean;
  detach: boolean;
  consoleSocket?: string | undefined;
  preserveFds?: number | undefined;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Returns the exit status tsrunc should exit with. */
export async function runContainer(options: RunOptions): Promise<number> {
  const created = await createContainer({ ...options, keepChild: !options.detach });
  try {
    startContainer(options.root, options.id);
  } catch (error) {
    deleteContainer(options.root, options.id, true);
    throw error;
  }
  if (options.detach) return 0;

  const { child } = created;
  const forward = (signal: NodeJS.Signals) => {
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
  deleteContainer(options.root, options.id, true);
  return status;
}
