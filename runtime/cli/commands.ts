/**
 * Every verb registered with yargs from flags.ts's table: yargs serves --help, usage errors
 * and the verbs the fast parser leaves to it. Loaded only when yargs is.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { VERBS, type VerbName, type VerbSpec } from './flags.js';
import { handlerFor } from './handlers.js';

function builder(spec: VerbSpec): (y: Argv) => Argv {
  return (y) => {
    for (const [name, positional] of Object.entries(spec.positionals)) y = y.positional(name, positional);
    return y.options(spec.options);
  };
}

/** runc's flags include --no-pivot and --no-new-keyring: a name, not a negation. exec's
 * --env/--cap/--additional-gids repeat per value; a greedy array would eat the id. */
export const PARSER_CONFIGURATION = { 'boolean-negation': false, 'greedy-arrays': false } as const;

type Handle = (verb: VerbName, args: Record<string, unknown>) => Promise<void>;
const runHandler: Handle = (verb, args) => handlerFor(verb)(args);

/** `handle` is the verbs' handlers; tests pass their own to see what yargs parsed. */
export function registerCommands(y: Argv, handle: Handle = runHandler): Argv {
  for (const [verb, spec] of Object.entries(VERBS) as [VerbName, VerbSpec][]) {
    y = y.command(spec.command, spec.describe, builder(spec), (args: ArgumentsCamelCase) => handle(verb, args));
  }
  return y;
}
