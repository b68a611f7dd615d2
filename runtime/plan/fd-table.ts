/**
 * The fds the native stage starts with: one table, numbered once. Entry i is the stage's fd i
 * (and slot i of its operations). 0-2 are stdio and 3 the channel to tsrunc; the compilers add
 * the rest and name each by what it is, and `tsrunc create`/`exec` open them on the host in this
 * order (container/stage-fds.ts). Nothing else reaches the stage: its first operation closes
 * every fd above the table.
 */
import type { NamespaceType } from './types.js';
import type { Slot } from './ops.js';

export type FdSource =
  /** tsrunc's own fd 0, 1 or 2 (a closed one becomes /dev/null). */
  | { kind: 'stdio'; fd: 0 | 1 | 2 }
  | { kind: 'null' }
  /** The socket tsrunc talks to the stage over. */
  | { kind: 'channel' }
  /** An fd of tsrunc's that the program gets (--preserve-fds, LISTEN_FDS). */
  | { kind: 'passed'; fd: number }
  | { kind: 'namespace'; type: NamespaceType; path: string }
  /** The detached mount tsrunc made of config.json's mount `index`. */
  | { kind: 'mount-tree'; index: number }
  | { kind: 'console-socket'; path: string }
  /** exec.fifo, as an O_PATH fd. */
  | { kind: 'exec-fifo'; path: string }
  | { kind: 'seccomp-listener'; path: string };

export const CHANNEL_FD = 3;

export class FdTable {
  readonly entries: FdSource[];

  constructor(stdio: [FdSource, FdSource, FdSource]) {
    this.entries = [...stdio, { kind: 'channel' }];
  }

  add(source: FdSource): Slot {
    this.entries.push(source);
    return this.entries.length - 1;
  }
}
