/**
 * process.terminal without --console-socket, for `run` and `exec` in the foreground: as runc
 * does, tsrunc itself receives the pty master (over a private console socket it listens on)
 * and relays between its own stdio and the container's terminal. When tsrunc's stdin is a
 * terminal it goes raw, so keys such as ^C reach the container's line discipline, and the
 * caller's window size is copied to the pty (again on each SIGWINCH).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodeModule from 'node:module';
import * as libc from '../linux/libc.js';
import { listenUnix, receiveOneFd } from '../linux/scm-rights.js';

const TIOCSWINSZ = 0x5414;
const TCGETS = 0x5401;
const TCSETS = 0x5402;
/** struct termios as TCGETS fills it: c_oflag is the second 32-bit word. */
const TERMIOS_SIZE = 60;
const C_OFLAG_OFFSET = 4;
const ONLCR = 0x4;

/**
 * Runs `body` with a ForegroundTerminal when tsrunc stays attached and has no --console-socket
 * (otherwise with none), and lets the terminal go afterwards, whatever happened.
 */
export async function withForegroundTerminal<T>(
  flags: { detach: boolean; consoleSocket?: string | undefined },
  body: (terminal: ForegroundTerminal | undefined) => Promise<T>,
): Promise<T> {
  const terminal = flags.detach || flags.consoleSocket !== undefined ? undefined : new ForegroundTerminal();
  try {
    return await body(terminal);
  } finally {
    terminal?.dispose();
  }
}

export class ForegroundTerminal {
  private socketDir: string | undefined;
  private listenFd: number | undefined;
  private master: number | undefined;
  private rawInput = false;
  private readonly onResize = () => this.copyWindowSize();

  /** Starts listening on a socket in a private 0700 temp dir; returns the socket's path. */
  listen(): string {
    this.socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-console-'));
    const socketPath = path.join(this.socketDir, 'console.sock');
    this.listenFd = listenUnix(socketPath, `listening for the container's terminal on ${socketPath}`);
    return socketPath;
  }

  /** Whether the container's pty master is here (process.terminal was set). */
  get received(): boolean {
    return this.master !== undefined;
  }

  /** Once create has returned: the init has connected and sent the master already. */
  receive(): void {
    if (this.listenFd === undefined) return;
    this.master = receiveOneFd(this.listenFd, "receiving the container's terminal");
    this.closeSocket();
    clearOnlcr(this.master);
  }

  /**
   * Relays until the container's side of the pty is closed (every process holding it has
   * exited): resolves then, after the last output is written.
   */
  relay(): Promise<void> {
    const master = this.master;
    if (master === undefined) return Promise.resolve();
    this.copyWindowSize();
    process.on('SIGWINCH', this.onResize);
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      this.rawInput = true;
    }
    // Loaded here, for a terminal only: node:tty (and node:net under it) cost every run ~10 ms.
    const tty = nodeModule.createRequire(import.meta.url)('node:tty') as typeof import('node:tty');
    const fromContainer = new tty.ReadStream(master);
    const toContainer = new tty.WriteStream(master);
    const input = process.stdin;
    const forwardInput = (chunk: Buffer) => toContainer.write(chunk);
    input.on('data', forwardInput);
    input.on('error', () => undefined); // a closed stdin only ends the input side
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        input.off('data', forwardInput);
        input.pause();
        if (input !== process.stdin || !process.stdin.isTTY) input.destroy();
        toContainer.destroy();
        fromContainer.destroy();
        this.master = undefined; // the streams own and close the fd
        resolve();
      };
      fromContainer.on('data', (chunk: Buffer) => process.stdout.write(chunk));
      // EIO once the last slave fd is closed: Node reports it as the end of the stream.
      fromContainer.on('end', finish);
      fromContainer.on('error', finish);
      toContainer.on('error', () => undefined);
    });
  }

  /** The caller's terminal size onto the pty, when tsrunc's stdout is a terminal. */
  private copyWindowSize(): void {
    if (this.master === undefined || !process.stdout.isTTY) return;
    const size = Buffer.alloc(8);
    size.writeUInt16LE(process.stdout.rows, 0);
    size.writeUInt16LE(process.stdout.columns, 2);
    try {
      libc.ioctlBuffer(this.master, TIOCSWINSZ, size, 'terminal: copying the window size');
    } catch {
      // a size that cannot be set leaves the pty's own
    }
  }

  private closeSocket(): void {
    if (this.listenFd !== undefined) libc.close(this.listenFd);
    this.listenFd = undefined;
    if (this.socketDir !== undefined) fs.rmSync(this.socketDir, { recursive: true, force: true });
    this.socketDir = undefined;
  }

  /** Restores the caller's terminal and removes the socket; safe to call more than once. */
  dispose(): void {
    process.off('SIGWINCH', this.onResize);
    if (this.rawInput) process.stdin.setRawMode(false);
    this.rawInput = false;
    this.closeSocket();
    if (this.master !== undefined) libc.close(this.master);
    this.master = undefined;
  }
}

/**
 * Output as the process wrote it: without ONLCR the pty does not turn "\n" into "\r\n", as
 * runc sets it (the caller's own terminal adds what it needs), so piped output compares equal.
 */
function clearOnlcr(master: number): void {
  const termios = Buffer.alloc(TERMIOS_SIZE);
  libc.ioctlBuffer(master, TCGETS, termios, "terminal: reading the container's terminal settings");
  termios.writeUInt32LE(termios.readUInt32LE(C_OFLAG_OFFSET) & ~ONLCR, C_OFLAG_OFFSET);
  libc.ioctlBuffer(master, TCSETS, termios, "terminal: clearing ONLCR on the container's terminal");
}
