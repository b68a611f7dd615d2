/** What both entries (light-main.ts and main.ts) do the same way: --version, logging set-up, failing. */
import type { GlobalArgs } from './global-options.js';
import { isVerb } from './flags.js';
import { configureLog, logDebug, logError } from '../log.js';
import { writeOut } from './output.js';
import { TSRUNC_COMMIT, TSRUNC_VERSION, SPEC_VERSION } from '../version.js';

export function fail(message: string, status = 1): never {
  logError(message);
  process.exit(status);
}

/** runc takes --version/-v among its global flags, before any verb; prints it when asked. */
export function answeredVersion(argv: string[]): boolean {
  const firstVerb = argv.findIndex(isVerb);
  const globalPart = firstVerb < 0 ? argv : argv.slice(0, firstVerb);
  if (!globalPart.includes('--version') && !globalPart.includes('-v')) return false;
  // runc's lines in runc's order (version, commit, spec); what managers and runc's tests read.
  writeOut(`tsrunc version ${TSRUNC_VERSION}\ncommit: ${TSRUNC_COMMIT}\nspec: ${SPEC_VERSION}\nnode: ${process.version}\n`);
  return true;
}

export function startLog(args: GlobalArgs, argv: string[]): void {
  configureLog({ file: args.log, format: args.logFormat, debug: args.debug });
  logDebug(`tsrunc ${argv.join(' ')}`);
}
