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

const VERBS = new Set(['create', 'start', 'state', 'kill', 'delete', 'run', 'list', 'spec', 'pause', 'resume', 'update', 'ps', 'events', 'features', 'exec']);

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

/** exec's flags that take a value (runc's names), to find where `exec <id> <command...>` starts. */
const EXEC_VALUE_FLAGS = new Set([
  '--process', '-p', '--cwd', '--env', '-e', '--user', '-u', '--additional-gids', '-g', '--cap', '-c',
  '--console-socket', '--pid-file', '--preserve-fds', '--process-label', '--apparmor', '--cgroup',
]);

/**
 * `exec <id> sh -c 'x'`: everything after the id is the command, flags and all, as in runc.
 * A "--" after the id tells yargs so (unless one is there already).
 */
function separateExecCommand(argv: string[]): string[] {
  const verb = argv.findIndex((arg) => VERBS.has(arg));
  if (verb < 0 || argv[verb] !== 'exec') return argv;
  for (let i = verb + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv;
    if (arg.startsWith('-')) {
      if (EXEC_VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    // arg is the id
    if (i + 1 < argv.length && argv[i + 1] !== '--') return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
    return argv;
  }
  return argv;
}

async function main(rawArgv: string[]): Promise<void> {
  const argv = separateExecCommand(joinStdinValues(rawArgv));
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
    // exec's --env/--cap/--additional-gids repeat per value; a greedy array would eat the id.
    .parserConfiguration({ 'boolean-negation': false, 'greedy-arrays': false })
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
