#!/usr/bin/env node
/** tsrunc's command line: runc's verbs, flags, outputs and exit codes. */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { errorLine } from '../errors.js';
import { registerCommands } from './commands.js';
import { withGlobalOptions } from './global-options.js';
import { configureLog, logDebug, logError } from '../log.js';
import { writeOut } from './output.js';
import { TSRUNC_VERSION, SPEC_VERSION } from './version.js';

const VERBS = new Set(['create', 'start', 'state', 'kill', 'delete', 'run', 'list', 'spec', 'pause', 'resume', 'update', 'ps', 'events']);

function fail(message: string): never {
  logError(message);
  process.exit(1);
}

/** yargs reads a lone "-" as a positional; `update --resources -` (stdin) needs it as a value. */
function joinStdinValues(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === '--resources' || arg === '-r') && argv[i + 1] === '-') {
      joined.push('--resources=-');
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

async function main(rawArgv: string[]): Promise<void> {
  const argv = joinStdinValues(rawArgv);
  // runc takes --version/-v among its global flags, before any verb.
  const firstVerb = argv.findIndex((arg) => VERBS.has(arg));
  const globalPart = firstVerb < 0 ? argv : argv.slice(0, firstVerb);
  if (globalPart.includes('--version') || globalPart.includes('-v')) {
    writeOut(`tsrunc version ${TSRUNC_VERSION}\nspec: ${SPEC_VERSION}\nnode: ${process.version}\n`);
    return;
  }
  const parser = withGlobalOptions(yargs(argv))
    .scriptName('tsrunc')
    .usage('$0 [global options] <command> [options] <id>')
    .version(false)
    // runc's flags include --no-pivot and --no-new-keyring: a name, not a negation.
    .parserConfiguration({ 'boolean-negation': false })
    .strict()
    .demandCommand(1, 'tsrunc needs a command; see --help')
    .middleware((args) => {
      configureLog({ file: args.log, format: args.logFormat, debug: args.debug });
      logDebug(`tsrunc ${argv.join(' ')}`);
    })
    .fail((message, error) => {
      fail(error ? errorLine(error) : message);
    })
    .help()
    .wrap(100); // fixed: asking process.stdout for its width would set O_NONBLOCK on it
  await registerCommands(parser as unknown as Argv).parseAsync();
}

main(hideBin(process.argv)).catch((error: unknown) => fail(errorLine(error)));
