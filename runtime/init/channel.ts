/**
 * The typed channel between `tsrunc create` and the init: one socket (the init's fd 3),
 * newline-delimited JSON. The parent sends the plan; the init answers ready or error.
 */
import fs from 'node:fs';

export const INIT_CHANNEL_FD = 3;

export type InitMessage =
  | { type: 'ready' }
  /** Mounts done, before pivot_root: the parent runs prestart + createRuntime, then answers. */
  | { type: 'hooks' }
  | { type: 'error'; message: string };

/** What the parent sends after the plan: the answer to 'hooks'. */
export type ParentMessage = { type: 'hooks-done' };

/** Blocking read of one line from the channel (the init has nothing else to do meanwhile). */
export function readLineSync(fd: number): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(64 * 1024);
  for (;;) {
    const count = fs.readSync(fd, buffer, 0, buffer.length, null);
    if (count === 0) break;
    const chunk = buffer.subarray(0, count);
    const newline = chunk.indexOf(10);
    if (newline >= 0) {
      chunks.push(Buffer.from(chunk.subarray(0, newline)));
      break;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function sendSync(fd: number, message: InitMessage | ParentMessage): void {
  const data = Buffer.from(`${JSON.stringify(message)}\n`);
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(fd, data, offset);
}

/** Parent side: splits a stream of chunks into messages. */
export class MessageReader {
  private pending = '';
  push(chunk: Buffer): InitMessage[] {
    this.pending += chunk.toString('utf8');
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.filter((line) => line !== '').map((line) => JSON.parse(line) as InitMessage);
  }
}
