#!/usr/bin/env node
/**
 * The entry users run (dist/bundle/tsrunc.cjs): a small file that answers --version, state,
 * list, kill and delete by itself, the verbs managers call most. Any other command line runs the
 * whole CLI (main.ts; dist/bundle/tsrunc-full.cjs), which parses it afresh. Reading and compiling
 * the whole CLI's code would cost each of these commands about 5 ms.
 */
import nodeModule from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorLine } from '../errors.js';
import { parseFast } from './fast-argv.js';
import { LIGHT_HANDLERS, lightVerbOf } from './light-handlers.js';
import { answeredVersion, fail, startLog } from './entry-common.js';
import type { GlobalArgs } from './global-options.js';

async function main(argv: string[]): Promise<void> {
  if (answeredVersion(argv)) return;
  const fast = parseFast(argv);
  const verb = fast && lightVerbOf(fast.verb);
  if (fast && verb) {
    startLog(fast.args as unknown as GlobalArgs, argv);
    await (LIGHT_HANDLERS[verb] as unknown as (args: Record<string, unknown>) => Promise<void>)(fast.args);
    return;
  }
  // The whole CLI runs on loading; nothing of this file's modules has been used but pure parsing.
  const here = path.dirname(fileURLToPath(import.meta.url));
  if (path.basename(here) === 'bundle') nodeModule.createRequire(import.meta.url)(path.join(here, 'tsrunc-full.cjs'));
  else await import('./main.js');
}

main(process.argv.slice(2)).catch((error: unknown) => fail(errorLine(error)));
