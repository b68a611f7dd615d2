/**
 * `tsrunc exec`'s handler, in a module (and a bundle, tsrunc-exec.cjs) of its own: the small
 * entry runs it without reading and compiling the whole CLI, as exec is a verb managers call
 * often (kubelet's probes, `docker exec`).
 */
import type { GlobalArgs } from './global-options.js';
import { execInContainer } from '../container/exec.js';
import { errorLine } from '../errors.js';
import { fail } from './entry-common.js';

/**
 * runc's status for a failed exec: a foreground exec exits with its process's status, so the
 * runtime's own failures need one a program rarely uses (a process that exits 1 would look
 * like "no such container"). Wrong usage, caught before anything is looked up, stays 1.
 */
const EXEC_FAILED_STATUS = 255;

export interface ExecArgs extends GlobalArgs {
  id: string;
  command?: string[];
  _: (string | number)[];
  process?: string;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: number[];
  cap: string[];
  noNewPrivs: boolean;
  tty: boolean;
  consoleSocket?: string;
  detach: boolean;
  pidFile?: string;
  preserveFds: number;
  apparmor?: string;
  processLabel?: string;
  cgroup: string[];
  ignorePaused: boolean;
}

export async function execHandler(args: ExecArgs): Promise<void> {
  const command = [...(args.command ?? []), ...args._.slice(1)].map(String);
  if (command.length === 0 && args.process === undefined) fail('exec: no command given: tsrunc exec <id> <command> [args...]');
  try {
    process.exitCode = await runExec(args, command);
  } catch (error) {
    fail(errorLine(error), EXEC_FAILED_STATUS);
  }
}

function runExec(args: ExecArgs, command: string[]): Promise<number> {
  return execInContainer({
    root: args.root, id: args.id, args: command, processFile: args.process, cwd: args.cwd,
    env: args.env.map(String), user: args.user, additionalGids: args.additionalGids, caps: args.cap.map(String),
    noNewPrivs: args.noNewPrivs, tty: args.tty, detach: args.detach, pidFile: args.pidFile,
    consoleSocket: args.consoleSocket, preserveFds: args.preserveFds,
    apparmor: args.apparmor, processLabel: args.processLabel, cgroups: args.cgroup.map(String), ignorePaused: args.ignorePaused,
  });
}
