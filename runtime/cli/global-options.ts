/** Flags every verb takes, as runc defines them. */
import type { Argv } from 'yargs';

export interface GlobalArgs {
  root: string;
  log: string | undefined;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
}

export const DEFAULT_ROOT = '/run/tsrunc';

export function withGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalArgs> {
  return argv
    .option('root', { type: 'string', default: DEFAULT_ROOT, describe: 'directory for container state', global: true })
    .option('log', { type: 'string', describe: 'write log lines to this file (default: stderr)', global: true })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'log line format', global: true })
    .option('debug', { type: 'boolean', default: false, describe: 'log debug lines', global: true })
    .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'manage cgroups through systemd (accepted; not used yet)', global: true }) as unknown as Argv<T & GlobalArgs>;
}
