/** runc's value formats on the command line: sizes like "512m", durations like "5s". */
import { TsruncError } from '../errors.js';

const sizeUnits: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** "100m", "1G", "512kb", "1048576" → bytes (binary units, as runc's RAMInBytes); "-1" stays -1. */
export function parseBytes(text: string, flag: string): number {
  if (text.trim() === '-1') return -1;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?\s*$/i.exec(text);
  if (!match) throw new TsruncError(`${flag}: invalid size "${text}"`);
  return Math.round(Number(match[1]) * sizeUnits[match[2]!.toLowerCase()]!);
}

const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations: "5s", "100ms", "1m30s" → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  let total = 0;
  let rest = text.trim();
  if (rest === '') throw new TsruncError(`${flag}: invalid duration "${text}"`);
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!match) throw new TsruncError(`${flag}: invalid duration "${text}"`);
    total += Number(match[1]) * durationUnits[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}
