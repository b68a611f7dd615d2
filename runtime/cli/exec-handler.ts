/**
 * `tsrunc exec`'s handler, in a module (and a bundle, tsrunc-exec.cjs) of its own: the small
 * entry runs it without reading and compiling the whole CLI, as exec is a verb managers call
 * often (kubelet's probes, `docker exec`).
 */
import type { GlobalArgs } from './global-options.js';
import { execInContainer } from '../container/exec.js';

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
  process.exitCode = await execInContainer({
    root: args.root, id: args.id, args: [...(args.command ?? []), ...args._.slice(1)].map(String), processFile: args.process, cwd: args.cwd,
    env: args.env.map(String), user: args.user, additionalGids: args.additionalGids, caps: args.cap.map(String),
    noNewPrivs: args.noNewPrivs, tty: args.tty, detach: args.detach, pidFile: args.pidFile,
    consoleSocket: args.consoleSocket, preserveFds: args.preserveFds,
    apparmor: args.apparmor, processLabel: args.processLabel, cgroups: args.cgroup.map(String), ignorePaused: args.ignorePaused,
  });
}
