#!/usr/bin/env node
/** tsrunc's command line: runc's verbs, flags, outputs and exit codes. */
import { errorLine } from '../errors.js';
import { isVerb } from './flags.js';
import { parseFast } from './fast-argv.js';
import { handlerFor } from './handlers.js';
import type { GlobalArgs } from './global-options.js';
import { answeredVersion, fail, startLog } from './entry-common.js';

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
  const verb = argv.findIndex(isVerb);
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
  if (answeredVersion(argv)) return;
  const fast = parseFast(argv);
  if (fast) {
    startLog(fast.args as unknown as GlobalArgs, argv);
    await handlerFor(fast.verb)(fast.args);
    return;
  }
  await parseWithYargs(argv);
}

/** --help, usage errors and the rarer verbs: yargs, loaded only for them. */
async function parseWithYargs(argv: string[]): Promise<void> {
  const { default: yargs } = await import('yargs');
  const { registerCommands, PARSER_CONFIGURATION } = await import('./commands.js');
  const { withGlobalOptions } = await import('./global-options.js');
  const parser = withGlobalOptions(yargs(argv))
    .scriptName('tsrunc')
    .usage('$0 [global options] <command> [options] <id>')
    .version(false)
    .parserConfiguration(PARSER_CONFIGURATION)
    .strict()
    .demandCommand(1, 'tsrunc needs a command; see --help')
    .middleware((args) => startLog(args, argv))
    .fail((message, error) => {
      fail(error ? errorLine(error) : message);
    })
    .help()
    .wrap(100); // fixed: asking process.stdout for its width would set O_NONBLOCK on it
  await registerCommands(parser).parseAsync();
}

main(process.argv.slice(2)).catch((error: unknown) => fail(errorLine(error)));
