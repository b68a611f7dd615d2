/** Signal names as runc accepts them: "KILL", "SIGKILL", "kill", or a number. */
import { constants } from 'node:os';
import { TsruncError } from '../errors.js';

const signalNumbers = constants.signals as Record<string, number>;

export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    // 0 checks that the processes exist, as kill(2)'s; runc takes it (its kill.bats sends it).
    if (number >= 0 && number <= 64) return number;
    throw new TsruncError(`invalid signal "${text}"`);
  }
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const number = signalNumbers[name];
  if (number === undefined) throw new TsruncError(`invalid signal "${text}"`);
  return number;
}
