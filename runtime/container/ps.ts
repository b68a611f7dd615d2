/**
 * `tsrunc ps`: the container's processes, as JSON pids (what containerd asks for), as a
 * `ps -ef`-like table built from /proc, or, given ps(1) options, as ps(1) prints them cut to
 * the container's processes (the one host tool tsrunc runs: see README, "ps and ps(1)").
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import { openContainer } from './state-store.js';
import { cgroupOf } from './cgroup-of.js';

export function containerPids(root: string, id: string): number[] {
  const { lock, state } = openContainer(root, id);
  try {
    // No refusal when stopped: its cgroup stays until delete and is read all the same, as runc
    // does (empty then, unless the container shared the host's pid namespace and left some).
    return cgroupOf(state, 'ps', root).pids().sort((a, b) => a - b);
  } finally {
    lock.release();
  }
}

function userNames(): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid !== undefined) names.set(Number(uid), name);
    }
  } catch {
    // numeric uids then
  }
  return names;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

function bootTimeSeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('btime '));
  return Number(line?.split(' ')[1] ?? 0);
}

function formatCpuTime(ticks: number): string {
  const seconds = Math.floor(ticks / CLOCK_TICKS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
}

function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  return major === 136 ? `pts/${minor}` : `tty${minor}`;
}

/** UID PID PPID C STIME TTY TIME CMD, as `ps -ef` prints them. */
export function formatProcessTable(pids: number[]): string {
  const names = userNames();
  const boot = bootTimeSeconds();
  const rows: string[][] = [['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']];
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const started = new Date((boot + Number(fields[19]) / CLOCK_TICKS) * 1000);
      const stime = `${String(started.getHours()).padStart(2, '0')}:${String(started.getMinutes()).padStart(2, '0')}`;
      const cpuTicks = Number(fields[11]) + Number(fields[12]);
      rows.push([names.get(uid) ?? String(uid), String(pid), fields[1]!, '0', stime, ttyName(Number(fields[4])), formatCpuTime(cpuTicks), cmdline || `[${comm}]`]);
    } catch {
      // exited while we looked
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]! + 1))).join(''))
    .join('\n')
    .concat('\n');
}

/**
 * ps(1) run with the user's options (no shell: an argument vector), its header kept and its
 * other lines kept when their PID column names one of `pids`. A leading "--" is a separator
 * for tsrunc, not an option for ps.
 */
export function psWithOptions(pids: readonly number[], options: readonly string[]): string {
  const args = options[0] === '--' ? options.slice(1) : [...options];
  const result = spawnSync('ps', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new TsruncError(`ps: running ps(1): ${result.error.message}`);
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new TsruncError(`exit status ${result.status ?? `signal ${result.signal}`}: ${output.trimEnd()}`);
  const [header = '', ...rows] = result.stdout.split('\n');
  const pidColumn = header.trim().split(/\s+/).indexOf('PID');
  if (pidColumn < 0) throw new TsruncError("couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const kept = [header];
  for (const row of rows) {
    if (row.trim() === '') continue;
    const pid = Number(row.trim().split(/\s+/)[pidColumn]);
    if (!Number.isInteger(pid)) throw new TsruncError(`unable to parse pid: ${row}`);
    if (wanted.has(pid)) kept.push(row);
  }
  return `${kept.join('\n')}\n`;
}
