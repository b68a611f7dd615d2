#!/usr/bin/env node
/** tsrunc's command line: runc's verbs, flags, outputs and exit codes. */
import { errorLine } from '../errors.js';
import { parseFast, separateExecCommand } from './fast-argv.js';
import { handlerFor } from './handlers.js';
import type { GlobalArgs } from './global-options.js';
import { answeredVersion, fail, startLog } from './entry-common.js';
import { writeOut } from './output.js';
import { logError } from '../log.js';

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
  const argv = separateExecCommand(joinStdinValues(rawArgv));
  if (answeredVersion(argv)) return;
  const fast = parseFast(argv);
  if (fast) {
    startLog(fast.args as unknown as GlobalArgs, argv);
    await handlerFor(fast.verb)(fast.args);
    return;
  }
  if (await answeredHelp(argv)) return;
  await parseWithYargs(argv);
}

/** runc's help pages and its answer to an unknown verb (help.ts), before yargs sees the line. */
async function answeredHelp(argv: string[]): Promise<boolean> {
  const { helpRequest, helpText, unknownTopicMessage, UNKNOWN_TOPIC_STATUS } = await import('./help.js');
  const request = helpRequest(argv);
  if (request === undefined) return false;
  const text = helpText(request);
  if (text !== undefined) {
    writeOut(text);
    return true;
  }
  logError(unknownTopicMessage(request.kind === 'unknown' ? request.word : ''));
  process.exit(UNKNOWN_TOPIC_STATUS);
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
