/**
 * Fds tsrunc passes on to the container process at 3, 4, ... as runc does: first the systemd
 * socket-activation fds (LISTEN_FDS, when LISTEN_PID is tsrunc's own pid; the process then
 * gets LISTEN_FDS=n and LISTEN_PID=1), then --preserve-fds N more, the fds that follow.
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';

export interface PassedFds {
  /** tsrunc's fds, in the order the program gets them at 3.. */
  fds: number[];
  /** Added to the process's environment. */
  env: string[];
}

export function passedFds(preserveFds: number | undefined): PassedFds {
  const count = preserveFds ?? 0;
  if (!Number.isInteger(count) || count < 0) throw new TsruncError(`--preserve-fds: "${preserveFds}" is not a count of fds`);
  const fds: number[] = [];
  const env: string[] = [];
  const listenFds = Number(process.env['LISTEN_FDS'] ?? '');
  if (process.env['LISTEN_FDS'] && Number(process.env['LISTEN_PID']) === process.pid && Number.isInteger(listenFds) && listenFds > 0) {
    for (let i = 0; i < listenFds; i++) fds.push(3 + i);
    env.push(`LISTEN_FDS=${listenFds}`, 'LISTEN_PID=1');
  }
  const base = 3 + fds.length;
  for (let fd = base; fd < base + count; fd++) {
    try {
      fs.fstatSync(fd);
    } catch (error) {
      throw new TsruncError(`unable to stat preserved-fd ${fd - base} (of ${count}): fd ${fd}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    fds.push(fd);
  }
  return { fds, env };
}
