/** process.terminal and --console-socket (create, run and exec plan their terminal alike). */
import path from 'node:path';
import type { ConsolePlan } from '../plan/types.js';
import { TsruncError } from '../errors.js';

/** process.terminal and --console-socket go together, as in runc (create detaches). */
export function planConsole(
  terminal: boolean,
  consoleSocket: string | undefined,
  size: { height: number; width: number } | undefined,
  attached = false,
): ConsolePlan | undefined {
  if (terminal && consoleSocket === undefined && attached) {
    // run and exec in the foreground pass their own socket (foreground-terminal.ts).
    throw new TsruncError('process.terminal without --console-socket: only run and exec in the foreground relay the terminal themselves; pass --console-socket');
  }
  if (terminal && consoleSocket === undefined) {
    throw new TsruncError('cannot allocate tty if tsrunc will detach without setting console socket (process.terminal is true: pass --console-socket)');
  }
  if (!terminal && consoleSocket !== undefined) {
    throw new TsruncError('cannot use console socket if tsrunc will not detach or allocate tty (process.terminal is false)');
  }
  if (consoleSocket === undefined) return undefined;
  return { socket: path.resolve(consoleSocket), rows: size?.height ?? 0, cols: size?.width ?? 0 };
}
