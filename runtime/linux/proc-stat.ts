/** Reading /proc/PID/stat: whether a PID is still the process we started (not a reused PID). */
import fs from 'node:fs';

export interface ProcStat {
  /** One letter: R, S, D, Z, T, ... */
  state: string;
  /** Field 22: start time in clock ticks since boot; tells a reused PID apart. */
  startTime: number;
  /** Field 2, the command name (comm): the stage's is "tsrunc:init" until it execs. */
  name: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { state: fields[0] ?? '', startTime: Number(fields[19]), name: text.slice(text.indexOf('(') + 1, close) };
}

/** True while `pid` is the same, unreaped-or-running, process that started at `startTime`. */
export function isSameLiveProcess(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}
