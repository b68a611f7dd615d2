/**
 * Writing to stdout/stderr synchronously through the fd, never through process.stdout:
 * libuv would set O_NONBLOCK on a pipe that the container shares: the container's own
 * process, writing to the same pipe, would then get EAGAIN where it expects to block.
 */
import fs from 'node:fs';
import { sleepSync } from '../linux/wait.js';

function writeFully(fd: number, text: string): void {
  const data = Buffer.from(text);
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset);
    } catch (error) {
      // Someone else made the pipe non-blocking; wait for room instead of losing output.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      sleepSync(1);
    }
  }
}

export function writeOut(text: string): void {
  writeFully(1, text);
}

export function writeErr(text: string): void {
  writeFully(2, text);
}
