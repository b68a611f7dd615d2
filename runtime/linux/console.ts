/**
 * process.terminal: a pty pair from the container's own devpts instance, the master sent to
 * the manager over --console-socket (SCM_RIGHTS, with "/dev/ptmx" as the message, as runc
 * does), the slave made the container process's stdio and controlling terminal.
 *
 * Order in the init: connect to the socket while the host's root is still the root (the
 * socket is a host path), make the pair once the container's root is in place (its /dev/ptmx
 * is pts/ptmx of the container's devpts), and attach the slave right before execve.
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import * as libc from './libc.js';
import { MS_BIND } from './mount-options.js';
import { connectUnix, sendWithFds } from './scm-rights.js';

export interface ConsolePlan {
  /** Absolute host path of the manager's unix socket (--console-socket). */
  socket: string;
  /** process.consoleSize; 0 = leave the kernel's default. */
  rows: number;
  cols: number;
}

const TIOCGPTN = 0x80045430;
const TIOCSPTLCK = 0x40045431;
const TIOCSWINSZ = 0x5414;
const TIOCSCTTY = 0x540e;

/** Before pivot_root (or before joining the container's mount namespace): the path is the host's. */
export function connectConsoleSocket(plan: ConsolePlan): number {
  return connectUnix(plan.socket, `connecting to the console socket ${plan.socket}`);
}

/**
 * In the container's root: opens a new pty pair, sizes it, bind-mounts the slave on
 * /dev/console (`bindDevConsole`, for a container's init, not for exec), sends the master
 * over `socket` and closes both. Returns the slave, close-on-exec, for attachConsole.
 */
export function setupConsole(plan: ConsolePlan, socket: number, bindDevConsole: boolean): number {
  let master: number;
  try {
    master = libc.open('/dev/ptmx', libc.O_RDWR | libc.O_NOCTTY | libc.O_CLOEXEC, 0, 'terminal: opening /dev/ptmx');
  } catch (error) {
    const mounted = fs.existsSync('/dev/pts/ptmx');
    throw new TsruncError(`${(error as Error).message}${mounted ? '' : ' (the container needs devpts mounted on /dev/pts for process.terminal)'}`);
  }
  try {
    libc.ioctlInt(master, TIOCSPTLCK, 0, 'terminal: unlocking the pty');
    const number = libc.ioctlInt(master, TIOCGPTN, 0, 'terminal: reading the pty number');
    const slavePath = `/dev/pts/${number}`;
    if (plan.rows > 0 && plan.cols > 0) {
      const size = Buffer.alloc(8);
      size.writeUInt16LE(plan.rows, 0);
      size.writeUInt16LE(plan.cols, 2);
      libc.ioctlBuffer(master, TIOCSWINSZ, size, 'terminal: setting the console size');
    }
    const slave = libc.open(slavePath, libc.O_RDWR | libc.O_NOCTTY | libc.O_CLOEXEC, 0, `terminal: opening ${slavePath}`);
    try {
      if (bindDevConsole) mountDevConsole(slavePath);
      sendWithFds(socket, Buffer.from('/dev/ptmx'), [master], 'terminal: sending the pty master over the console socket');
    } catch (error) {
      libc.close(slave);
      throw error;
    }
    return slave;
  } finally {
    libc.close(master);
    libc.close(socket);
  }
}

/** runc's mountConsole: the slave bind-mounted on /dev/console, a file made there if needed. */
function mountDevConsole(slavePath: string): void {
  const context = 'terminal: mounting the pty on /dev/console';
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync('/dev/console');
  } catch {
    stat = undefined;
  }
  if (stat?.isSymbolicLink()) fs.unlinkSync('/dev/console');
  if (!stat || stat.isSymbolicLink()) {
    libc.close(libc.open('/dev/console', libc.O_WRONLY | libc.O_CREAT | libc.O_EXCL | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0o600, context));
  }
  libc.mount(slavePath, '/dev/console', null, MS_BIND, null, context);
}

/** Right before execve: a new session whose controlling terminal is the slave, on fds 0, 1 and 2. */
export function attachConsole(slave: number): void {
  libc.setsid('terminal: setsid');
  libc.ioctlValue(slave, TIOCSCTTY, 0, 'terminal: making the pty the controlling terminal');
  for (const fd of [0, 1, 2]) libc.dup2(slave, fd, `terminal: pty on fd ${fd}`);
  if (slave > 2) libc.close(slave);
}
