/**
 * The container process as the init prepares it: user, cwd, executable lookup, environment.
 * All of it runs after pivot_root, so paths are the container's.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ProcessPlan } from './plan.js';
import { TsruncError } from '../errors.js';
import * as libc from '../linux/libc.js';

/** args[0] as execve needs it: a path, looked up in the container's PATH when it has no slash. */
export function resolveExecutable(file: string, env: readonly string[], cwd: string): string {
  const isExecutableFile = (candidate: string): boolean => {
    try {
      const stat = fs.statSync(candidate);
      if (!stat.isFile()) return false;
      fs.accessSync(candidate, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (file.includes('/')) {
    const candidate = path.resolve(cwd, file);
    if (isExecutableFile(candidate)) return candidate;
    throw new TsruncError(`exec: ${file}: no such executable file in the container`);
  }
  const pathVariable = env.find((entry) => entry.startsWith('PATH='))?.slice(5) ?? '';
  for (const dir of pathVariable.split(':')) {
    if (dir === '') continue;
    const candidate = path.join(dir, file);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new TsruncError(`exec: "${file}": executable file not found in $PATH (${pathVariable || 'PATH is not set'})`);
}

/** HOME from the container's /etc/passwd when the config does not set it, as runc does. */
export function withHome(env: readonly string[], uid: number): string[] {
  if (env.some((entry) => entry.startsWith('HOME='))) return [...env];
  let home = '/';
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 6 && Number(fields[2]) === uid && fields[5]) {
        home = fields[5];
        break;
      }
    }
  } catch {
    // no /etc/passwd in the container: "/" it is
  }
  return [...env, `HOME=${home}`];
}

export function enterCwd(cwd: string): void {
  if (!path.isAbsolute(cwd)) throw new TsruncError(`cwd: "${cwd}" is not an absolute path`);
  try {
    fs.mkdirSync(cwd, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new TsruncError(`cwd: ${cwd} is not a directory`);
    throw new TsruncError(`cwd: cannot create ${cwd}: ${code ?? error}`);
  }
  libc.chdir(cwd, `cwd: ${cwd}`);
}

/** False in a user namespace whose maps an unprivileged user wrote (setgroups "deny"). */
function setgroupsAllowed(): boolean {
  try {
    return fs.readFileSync('/proc/self/setgroups', 'utf8').trim() !== 'deny';
  } catch {
    return true; // no user namespace support: setgroups is what it always was
  }
}

export function switchUser(plan: ProcessPlan): void {
  if (setgroupsAllowed()) libc.setgroups(plan.additionalGids, 'setting additional groups');
  else if (plan.additionalGids.length > 0) {
    throw new TsruncError(`process.user.additionalGids: setgroups is denied in this user namespace (its maps were written without privilege), so ${plan.additionalGids.join(',')} cannot be set`);
  }
  libc.setresgid(plan.gid, `setting gid ${plan.gid}`);
  libc.setresuid(plan.uid, `setting uid ${plan.uid}`);
}
