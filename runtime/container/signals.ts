/**
 * Signal names as runc accepts them: "KILL", "SIGKILL", "kill", or a number; and the real-time
 * signals by name as Docker and podman name them (moby's signal table): "RTMIN+3" is SIGRTMIN+3,
 * systemd's halt request. runc 1.1 takes only their numbers.
 */
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
  const number = signalNumbers[name] ?? realTimeSignal(name);
  if (number === undefined) throw new TsruncError(`invalid signal "${text}"`);
  return number;
}

/** glibc's SIGRTMIN and SIGRTMAX on Linux (the kernel's 32 and 33 are glibc's own). */
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/** SIGRTMIN, SIGRTMIN+1 … SIGRTMIN+15, SIGRTMAX-14 … SIGRTMAX-1, SIGRTMAX: moby's names. */
function realTimeSignal(name: string): number | undefined {
  const match = /^SIGRT(MIN|MAX)(?:([+-])([1-9]\d?))?$/.exec(name);
  if (!match) return undefined;
  const [, base, sign, offset] = match;
  if (sign === undefined) return base === 'MIN' ? SIGRTMIN : SIGRTMAX;
  const n = Number(offset);
  if (base === 'MIN' && sign === '+' && n <= 15) return SIGRTMIN + n;
  if (base === 'MAX' && sign === '-' && n <= 14) return SIGRTMAX - n;
  return undefined;
}
