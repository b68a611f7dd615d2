#!/usr/bin/env node
/**
 * The entry users run (dist/bundle/tsrunc.cjs): a small file that answers --version, state,
 * list, kill and delete by itself, the verbs managers call most, and hands exec to its own
 * bundle (tsrunc-exec.cjs). Any other command line runs the whole CLI (main.ts;
 * dist/bundle/tsrunc-full.cjs), which parses it afresh. Reading and compiling
 * the whole CLI's code would cost each of these commands about 5 ms.
 */
import nodeModule from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorLine } from '../errors.js';
import { parseFast, separateExecCommand } from './fast-argv.js';
import { LIGHT_HANDLERS, lightVerbOf } from './light-handlers.js';
import { answeredVersion, fail, startLog } from './entry-common.js';
import type { GlobalArgs } from './global-options.js';
import type { ExecArgs } from './exec-handler.js';

async function main(rawArgv: string[]): Promise<void> {
  if (answeredVersion(rawArgv)) return;
  const argv = separateExecCommand(rawArgv);
  const fast = parseFast(argv);
  const verb = fast && lightVerbOf(fast.verb);
  if (fast && verb) {
    startLog(fast.args as unknown as GlobalArgs, argv);
    await (LIGHT_HANDLERS[verb] as unknown as (args: Record<string, unknown>) => Promise<void>)(fast.args);
    return;
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundled = path.basename(here) === 'bundle';
  if (fast?.verb === 'exec') {
    // exec's own bundle: its modules only, not the whole CLI's.
    startLog(fast.args as unknown as GlobalArgs, argv);
    const { execHandler } = (bundled
      ? nodeModule.createRequire(import.meta.url)(path.join(here, 'tsrunc-exec.cjs'))
      : await import('./exec-handler.js')) as typeof import('./exec-handler.js');
    await execHandler(fast.args as unknown as ExecArgs);
    return;
  }
  // The whole CLI runs on loading (on the raw argv); nothing of this file's modules has been used but pure parsing.
  if (bundled) nodeModule.createRequire(import.meta.url)(path.join(here, 'tsrunc-full.cjs'));
  else await import('./main.js');
}

main(process.argv.slice(2)).catch((error: unknown) => fail(errorLine(error)));
