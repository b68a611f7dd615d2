/** Flags every verb takes, as runc defines them (the table is in flags.ts). */
import type { Argv } from 'yargs';
import { GLOBAL_OPTIONS } from './flags.js';

export interface GlobalArgs {
  root: string;
  log: string | undefined;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
  rootless: 'true' | 'false' | 'auto';
}

export { DEFAULT_ROOT } from './flags.js';

export function withGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalArgs> {
  return argv.options(GLOBAL_OPTIONS) as unknown as Argv<T & GlobalArgs>;
}
