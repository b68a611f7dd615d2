/**
 * The native stage (runtime/native/stage.c, README "The native stage"): starts the init through
 * a C clone() whose child does, single-threaded, what Node cannot (enter a user namespace), then
 * execs the Node init. The child is tsrunc's but not libuv's, so NativeChild tracks it the way
 * the rest of tsrunc uses a ChildProcess: pid, the channel at stdio[3], 'exit'/'close', kill.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import { TsruncError } from '../errors.js';
import { nativeDir } from '../install-paths.js';
import * as libc from './libc.js';

export const STAGE_LIBRARY = path.join(nativeDir, 'libtsrunc-stage.so');

type SpawnFn = (
  path: string, argv: (string | null)[], envp: (string | null)[], fds: number[], fdCount: number,
  joinFds: number[], joinTypes: number[], joinNames: (string | null)[], joinCount: number, cloneFlags: number, unshareFlags: number,
  cloneAgain: number, waitForMaps: number, errorFd: number, syncOut: number[], reportOut: number[],
) => number;
type WaitFn = (reportFd: number, pid: number, cloneAgain: number) => number;

let spawnFn: SpawnFn | undefined;
let waitFn: WaitFn | undefined;
function stageSpawn(): SpawnFn {
  if (spawnFn) return spawnFn;
  if (!fs.existsSync(STAGE_LIBRARY)) {
    throw new TsruncError(`the native stage ${STAGE_LIBRARY} is not built (run make build): user namespaces need it`);
  }
  const lib = libc.ffi().load(STAGE_LIBRARY);
  spawnFn = lib.func(
    'int tsrunc_stage_spawn(const char *path, const char **argv, const char **envp, const int *fds, int fd_count, ' +
      'const int *join_fds, const int *join_types, const char **join_names, int join_count, int clone_flags, int unshare_flags, ' +
      'int clone_again, int wait_for_maps, int error_fd, _Out_ int *sync_out, _Out_ int *report_out)',
  ) as unknown as SpawnFn;
  waitFn = lib.func('int tsrunc_stage_wait(int report_fd, int pid, int clone_again)') as unknown as WaitFn;
  return spawnFn;
}

export interface StageRequest {
  command: string;
  /** argv after argv[0] (which is the command). */
  args: string[];
  env: string[];
  /** The child's fd i is the caller's fds[i] (-1: closed); the channel (a socketpair) goes where 'channel' is. */
  fds: (number | 'channel')[];
  /** setns() in this order in the child (a user namespace first); `name` is for its error message. */
  joins: { fd: number; nstype: number; name: string }[];
  /** Namespaces the clone itself creates (CLONE_NEWUSER and the ones it will own). */
  cloneFlags: number;
  /** Namespaces created after the joins, inside a joined user namespace. */
  unshareFlags: number;
  /** A new or joined pid namespace only holds children: the init is one more clone. */
  cloneAgain: boolean;
  /** The child waits until the caller wrote its id maps and called `release`. */
  waitForMaps: boolean;
}

export interface StageChild {
  child: NativeChild;
  /**
   * Lets the child go on once its uid_map/gid_map are written (waitForMaps) and waits until it
   * exec'd the init, or throws with the step that failed; or (goOn false) makes it give up.
   */
  release(goOn: boolean): void;
}

/** What the child said on the channel before it gave up (it has exited; the socket reads to EOF). */
function childError(channelFd: number): string {
  const buffer = Buffer.alloc(4096);
  let text = '';
  for (;;) {
    let count: number;
    try {
      count = fs.readSync(channelFd, buffer, 0, buffer.length, null);
    } catch {
      break; // EAGAIN on a channel a net.Socket made non-blocking: what was sent is read
    }
    if (count <= 0) break;
    text += buffer.subarray(0, count).toString();
  }
  for (const line of text.split('\n')) {
    try {
      const message = JSON.parse(line) as { message?: string };
      if (message.message) return message.message;
    } catch {
      // not a message
    }
  }
  return 'native stage: the first child exited without saying why';
}

/** The C side writes names into a JSON string as they are. */
function jsonSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, '?');
}

export function spawnThroughStage(request: StageRequest): StageChild {
  const spawn = stageSpawn();
  const [parentEnd, childEnd] = libc.socketpair('the init channel');
  let pid: number;
  const syncOut = [-1];
  const reportOut = [-1];
  try {
    const fds = request.fds.map((fd) => (fd === 'channel' ? childEnd : fd));
    pid = spawn(
      request.command, [request.command, ...request.args, null], [...request.env, null], fds, fds.length,
      request.joins.map((j) => j.fd), request.joins.map((j) => j.nstype), [...request.joins.map((j) => jsonSafe(j.name)), null], request.joins.length,
      request.cloneFlags, request.unshareFlags, request.cloneAgain ? 1 : 0, request.waitForMaps ? 1 : 0, childEnd, syncOut, reportOut,
    );
  } finally {
    libc.close(childEnd);
  }
  if (pid < 0) {
    const errno = -pid;
    const message = errno === osConstants.errno.ECHILD
      ? childError(parentEnd)
      : `native stage: clone: ${libc.errnoName(errno)}`;
    libc.close(parentEnd);
    throw new TsruncError(`starting the init: ${message}`);
  }
  const channel = new net.Socket({ fd: parentEnd, readable: true, writable: true });
  const syncFd = syncOut[0]!;
  const reportFd = reportOut[0]!;
  const child = new NativeChild(pid, channel);
  return {
    child,
    release(goOn) {
      if (syncFd < 0) return;
      try {
        // Closed without a byte: the child exits quietly.
        if (goOn) libc.writeAll(syncFd, Buffer.from('1'), 'letting the init go on');
      } catch (error) {
        libc.close(reportFd);
        throw error;
      } finally {
        libc.close(syncFd);
      }
      if (!goOn) {
        libc.close(reportFd);
        return;
      }
      // Until the init is exec'd: a failure on the way (becoming root, the exec) is told here.
      if (waitFn!(reportFd, pid, 0) < 0) {
        const message = childError(parentEnd); // the child is reaped: the channel reads to EOF
        child.abandon();
        throw new TsruncError(`starting the init: ${message}`);
      }
    },
  };
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);

/**
 * The init as the native stage made it: reaped on SIGCHLD with waitpid(pid, WNOHANG), which
 * leaves libuv's own children alone. Emits 'exit', then 'close' once the channel closed too.
 */
export class NativeChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdio: [null, null, null, Duplex];
  private exited = false;
  private channelClosed = false;
  private closeEmitted = false;
  /** Keeps tsrunc alive while it waits for the child, as a ChildProcess does until unref(). */
  private readonly keepAlive: NodeJS.Timeout;
  private readonly onChildSignal = () => this.poll();

  constructor(readonly pid: number, channel: Duplex) {
    super();
    this.stdio = [null, null, null, channel];
    channel.on('close', () => {
      this.channelClosed = true;
      this.emitClose();
    });
    process.on('SIGCHLD', this.onChildSignal);
    this.keepAlive = setInterval(() => this.poll(), 1000);
    // An exit before the listener existed sent its SIGCHLD already.
    setImmediate(() => this.poll());
  }

  private poll(): void {
    if (this.exited) return;
    let status: ReturnType<typeof libc.reapIfExited>;
    try {
      status = libc.reapIfExited(this.pid, `waiting for the init (pid ${this.pid})`);
    } catch {
      status = { code: null, signal: null }; // not our child any more: gone
    }
    if (!status) return;
    this.exited = true;
    process.off('SIGCHLD', this.onChildSignal);
    clearInterval(this.keepAlive);
    this.exitCode = status.code;
    this.signalCode = status.signal === null ? null : signalNames.get(status.signal) ?? null;
    this.emit('exit', this.exitCode, this.signalCode);
    this.emitClose();
  }

  private emitClose(): void {
    if (!this.exited || !this.channelClosed || this.closeEmitted) return;
    this.closeEmitted = true;
    this.emit('close', this.exitCode, this.signalCode);
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  unref(): void {
    this.keepAlive.unref();
  }

  /** The child failed before it was ready and the stage reaped it: stop watching, close the channel. */
  abandon(): void {
    this.exited = true;
    process.off('SIGCHLD', this.onChildSignal);
    clearInterval(this.keepAlive);
    (this.stdio[3] as net.Socket).destroy();
  }
}
