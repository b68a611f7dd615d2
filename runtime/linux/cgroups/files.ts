/**
 * Reading and writing cgroup control files. A write is one write(2) of the whole value to a
 * file opened O_WRONLY|O_TRUNC without O_CREAT (as runc does): a missing file is ENOENT, not a
 * new file, and the kernel's verdict on the value comes back as the write's errno.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError, describeErrno } from '../../errors.js';
import { sleepSync } from '../wait.js';

/** One planned write: `file` in the directory of `controller` ("" on v2). */
export interface CgroupWrite {
  controller: string;
  file: string;
  value: string;
  /**
   * This errno is tolerated: the plan repeats the write later (runc's order for cpu period
   * and quota: a new period can be refused until the new quota is in place).
   */
  tolerate?: 'EINVAL';
  /** Read the file back and fail if the kernel kept another value (cpu.shares is clamped). */
  verify?: boolean;
  /** A missing file is skipped, not an error (knobs older kernels lack, like cpu.cfs_burst_us). */
  optional?: boolean;
}

export interface CgroupPlan {
  writes: CgroupWrite[];
  /** Settings the layout cannot apply and that the spec lets a runtime ignore. */
  warnings: string[];
}

/** errors.ts names the common errnos; these are the others a cgroup write can get. */
const MORE_ERRNO_TEXT: Record<string, string> = {
  ERANGE: 'numerical result out of range',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  E2BIG: 'argument list too long',
  EDEADLK: 'resource deadlock avoided',
};

function errnoText(code: string): string {
  const text = describeErrno(code);
  return text === 'system error' ? MORE_ERRNO_TEXT[code] ?? code : text;
}

export class CgroupWriteError extends TsruncError {
  override name = 'CgroupWriteError';
  constructor(
    readonly code: string,
    readonly file: string,
    readonly value: string,
    hint = '',
  ) {
    super(`cgroup: writing ${JSON.stringify(value)} to ${file}: ${errnoText(code)}${hint}`);
  }
}

const O_WRONLY_TRUNC = fs.constants.O_WRONLY | fs.constants.O_TRUNC;

/** Writes `value` to `dir/file`; a refusal throws CgroupWriteError naming the file and the value. */
export function writeCgroupFile(dir: string, file: string, value: string): void {
  const target = path.join(dir, file);
  let fd: number;
  try {
    fd = fs.openSync(target, O_WRONLY_TRUNC);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    throw new CgroupWriteError(code, target, value, code === 'ENOENT' && !fs.existsSync(dir) ? ' (the cgroup directory does not exist)' : '');
  }
  try {
    const data = Buffer.from(value);
    // One write: cgroup files parse each write(2) on its own.
    fs.writeSync(fd, data, 0, data.length);
  } catch (error) {
    throw new CgroupWriteError((error as NodeJS.ErrnoException).code ?? 'EIO', target, value);
  } finally {
    fs.closeSync(fd);
  }
}

/** The file's text, or undefined when it does not exist. */
export function readCgroupFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV') return undefined;
    throw new TsruncError(`cgroup: reading ${path.join(dir, file)}: ${errnoText(code ?? 'EIO')}`);
  }
}

/** 2^64 - 1, what runc reports for "max" (as near as a double gets). */
export const UINT64_MAX = Number(0xffff_ffff_ffff_ffffn);

/** A numeric file's value ("max" reads as UINT64_MAX), or undefined when absent or not a number. */
export function readCgroupNumber(dir: string, file: string): number | undefined {
  const text = readCgroupFile(dir, file)?.trim();
  if (text === undefined || text === '') return undefined;
  if (text === 'max') return UINT64_MAX;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, ...) as a record of numbers. */
export function readKeyValues(dir: string, file: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of (readCgroupFile(dir, file) ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) result[key] = Number(value);
  }
  return result;
}

/** Applies a plan's writes in order, each into `dirOf(controller)`. */
export function applyWrites(writes: CgroupWrite[], dirOf: (controller: string) => string): void {
  for (const write of writes) {
    const dir = dirOf(write.controller);
    try {
      writeCgroupFile(dir, write.file, write.value);
    } catch (error) {
      if (error instanceof CgroupWriteError) {
        if (write.tolerate && error.code === write.tolerate) continue;
        if (write.optional && error.code === 'ENOENT' && fs.existsSync(dir)) continue;
      }
      throw error;
    }
    if (write.verify) {
      const kept = readCgroupFile(dir, write.file)?.trim();
      if (kept !== undefined && kept !== write.value) {
        throw new TsruncError(`cgroup: writing ${JSON.stringify(write.value)} to ${path.join(dir, write.file)}: the kernel keeps ${JSON.stringify(kept)} instead (out of range)`);
      }
    }
  }
}

/** Every pid in `dir` and the cgroups below it (cgroup.procs). */
export function pidsUnder(dir: string): number[] {
  const pids: number[] = [];
  const visit = (current: string) => {
    const procs = readCgroupFile(current, 'cgroup.procs');
    if (procs === undefined) return;
    for (const line of procs.split('\n')) if (line.trim() !== '') pids.push(Number(line));
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) visit(path.join(current, entry.name));
  };
  visit(dir);
  return [...new Set(pids)];
}

/**
 * Removes `dir` and the cgroups below it, deepest first. A cgroup whose last processes are
 * still exiting refuses rmdir with EBUSY for a moment: retried for up to `timeoutMs`.
 * Missing directories are fine (idempotent).
 */
export function removeCgroupDir(dir: string, timeoutMs = 2000): void {
  // Usually a leaf: one rmdir, without listing the dozens of files every v1 controller shows.
  try {
    fs.rmdirSync(dir);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
  }
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new TsruncError(`cgroup: reading ${dir}: ${errnoText((error as NodeJS.ErrnoException).code ?? 'EIO')}`);
  }
  for (const entry of entries) if (entry.isDirectory()) removeCgroupDir(path.join(dir, entry.name), timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let pause = 1;
  for (;;) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() >= deadline) {
        const hint = code === 'EBUSY' ? ` (processes still in it: ${pidsUnder(dir).join(' ') || 'none listed'})` : '';
        throw new TsruncError(`cgroup: removing ${dir}: ${errnoText(code)}${hint}`);
      }
      sleepSync(pause);
      pause = Math.min(pause * 2, 50);
    }
  }
}
