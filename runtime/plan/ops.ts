/**
 * The operations the native stage (runtime/native/) performs, in the order a plan lists them.
 * Each is one primitive step with its inputs spelled out; the stage takes no decision of its
 * own. `label` names the step in the one error line a failure produces ("<label>: <call>:
 * ENOENT (...)"). Fds are slots: slot i is the stage's fd i as the fd table gave it
 * (fd-table.ts), and fds the stage makes go to slots the plan picks (from FIRST_RUNTIME_SLOT).
 *
 * This is a leaf module: plan compilers in linux/ and container/ import it, it imports nothing.
 */

export type Slot = number;

/** Slots for fds the stage opens itself start here; below are the fds it was given. */
export const FIRST_RUNTIME_SLOT = 512;
export const MAX_SLOTS = 1024;

/** What open-in-root makes where the path is missing; 'as-source': a directory or a file, as `source` is. */
export type CreateKind = 'no' | 'directory' | 'file' | 'as-source';

export type StageOp =
  | { op: 'close-from'; label: string; first: number }
  | { op: 'close'; label: string; fd: Slot }
  | { op: 'open'; label: string; dir: Slot | null; path: string; flags: number; mode: number; into: Slot }
  /** Resolved inside `root` (RESOLVE_IN_ROOT, no magic links), created when missing; `check`: tsrunc judges a path that differs. */
  | { op: 'open-in-root'; label: string; root: Slot; path: string; create: CreateKind; into: Slot; check: number | null; source?: string }
  | { op: 'write-file'; label: string; dir: Slot | null; path: string; data: string; flags: number }
  | { op: 'chdir'; label: string; path: string }
  | { op: 'fchdir'; label: string; fd: Slot }
  | { op: 'chroot'; label: string; path: string }
  /**
   * source/target as paths, or as a slot's /proc/self/fd path; null source, fstype or data: NULL.
   * ignoreErrno (0: none): that failure is no error, the op is skipped. onlyAfterIgnored: the
   * mount is made only when the op just before it failed with an errno it ignores (a fallback).
   */
  | {
    op: 'mount'; label: string; source: string | null; sourceFd: Slot | null; target: string; targetFd: Slot | null;
    fstype: string | null; flags: number; data: string | null; ignoreErrno: number; onlyAfterIgnored: boolean;
    /** A tmpfs: mode= the mount point's mode first in data, unless the stage made the directory (runc). */
    modeOfTarget: boolean;
  }
  /** umount2; a failure with one of ignoreErrno is no error (the next op may be its fallback). */
  | { op: 'umount'; label: string; target: string; flags: number; ignoreErrno: number[] }
  | { op: 'pivot-root'; label: string; newRoot: string; putOld: string }
  | { op: 'open-tree'; label: string; dir: Slot | null; path: string; flags: number; into: Slot }
  | { op: 'move-mount'; label: string; from: Slot; to: Slot }
  /** mount_setattr(AT_RECURSIVE) on the mount at `target` and every mount below it. */
  | { op: 'mount-setattr'; label: string; target: Slot; set: number; clear: number }
  /** The contents of directory `from` copied into `to`, modes, owners and times kept (tmpcopyup). */
  | { op: 'copy-tree'; label: string; from: Slot; to: Slot }
  | { op: 'sched-setattr'; label: string; policy: number; flags: number; nice: number; priority: number; runtime: number; deadline: number; period: number }
  | { op: 'ioprio-set'; label: string; value: number }
  | { op: 'personality'; label: string; persona: number }
  | { op: 'sched-setaffinity'; label: string; cpus: number[] }
  | { op: 'set-mempolicy'; label: string; mode: number; nodes: number[] }
  /** mknod in `dir` (whatever was there removed first); where mknod is refused, the host's node bind-mounted. */
  | {
    op: 'device'; label: string; dir: Slot; name: string; type: number; permissions: number; dev: number;
    uid: number; gid: number; hostPath: string;
  }
  | { op: 'unlink'; label: string; dir: Slot; name: string; flags: number; ignoreMissing: boolean }
  | { op: 'symlink'; label: string; dir: Slot; target: string; name: string }
  /** A directory gets an empty read-only tmpfs, anything else /dev/null; nothing there: nothing done. */
  | { op: 'mask'; label: string; path: string }
  /** Bound onto itself and remounted read-only; nothing there: nothing done. */
  | { op: 'readonly'; label: string; path: string }
  | { op: 'setns'; label: string; fd: Slot; nstype: number }
  | { op: 'unshare'; label: string; flags: number }
  /** A child made tsrunc's (CLONE_PARENT) goes on as the init; this process reports its pid and exits. */
  | { op: 'clone-init'; label: string }
  | { op: 'setgroups'; label: string; gids: number[]; ignoreDenied: boolean }
  | { op: 'setresgid'; label: string; gid: number }
  | { op: 'setresuid'; label: string; uid: number }
  | { op: 'sethostname'; label: string; name: string }
  | { op: 'setdomainname'; label: string; name: string }
  | { op: 'prctl'; label: string; option: number; args: number[] }
  /** prctl(PR_CAPBSET_DROP) of each. */
  | { op: 'capbset-drop'; label: string; capabilities: number[] }
  /** Each set as two 32-bit words, low first. */
  | { op: 'capset'; label: string; effective: [number, number]; permitted: [number, number]; inheritable: [number, number] }
  /** soft and hard as decimal uint64 text (RLIM_INFINITY is 2^64-1). */
  | { op: 'setrlimit'; label: string; resource: number; soft: string; hard: string }
  | { op: 'umask'; label: string; mask: number }
  /** Joins (creating) the named session keyring, then adds `addPermissions` (0: leaves them). */
  | { op: 'keyring'; label: string; name: string; addPermissions: number; ignoreMissing: boolean }
  /** One JSON line to tsrunc on the channel. */
  | { op: 'send'; label: string; message: Record<string, unknown> }
  /** Reads the next batch from tsrunc and runs it, then goes on with this one. */
  | { op: 'await'; label: string }
  | { op: 'fail'; label: string; message: string }
  /** A pty pair from the container's devpts; the master sent over `socket` (then closed), the slave kept in `into`. */
  | { op: 'pty'; label: string; socket: Slot; rows: number; cols: number; devConsole: boolean; into: Slot }
  | { op: 'setsid'; label: string }
  | { op: 'set-ctty'; label: string; fd: Slot }
  /** fds 0-2 handed to uid, as runc does (not /dev/null, not what uid owns, not where the kernel refuses). */
  | { op: 'chown-stdio'; label: string; uid: number; nullRdev: number }
  /** addHome: HOME from home-from-passwd too, as the process gets it (a startContainer hook with the process's env). */
  | { op: 'hook'; label: string; path: string; args: string[]; env: string[]; addHome: boolean; stdin: string; timeoutSeconds: number }
  /** The first regular file this process may execute; none: fails with `notFound`. */
  | { op: 'find-executable'; label: string; candidates: string[]; notFound: string }
  | { op: 'home-from-passwd'; label: string; uid: number; passwd: string }
  /** Blocks opening exec.fifo (an O_PATH slot) for writing until `tsrunc start` reads it; failures after go there. */
  | { op: 'wait-start'; label: string; fifo: Slot }
  /** The program's fd i becomes fds[i] (null: closed), inheritable and blocking; every other fd close-on-exec. */
  | { op: 'place-fds'; label: string; fds: (Slot | null)[] }
  | { op: 'reset-signals'; label: string }
  | { op: 'seccomp'; label: string; program: Buffer; flags: number; into: Slot | null }
  | { op: 'send-fd'; label: string; socket: Slot; fd: Slot; payload: string; closeOnFailure: boolean }
  /** path null: what find-executable found. addHome: HOME from home-from-passwd appended to env. */
  | { op: 'exec'; label: string; path: string | null; args: string[]; env: string[]; addHome: boolean }
  | { op: 'dup-onto'; label: string; fd: Slot; target: number };

export type OpName = StageOp['op'];

/** Operation codes: the same numbers as enum op_code in runtime/native/stage.h. */
export const OP_CODES: Record<OpName, number> = {
  'close-from': 1, close: 2, open: 3, 'open-in-root': 4, 'write-file': 5, chdir: 6, fchdir: 7, chroot: 8,
  mount: 9, umount: 10, 'pivot-root': 11, 'open-tree': 12, 'move-mount': 13, device: 14, unlink: 15,
  symlink: 16, mask: 17, readonly: 18, setns: 19, unshare: 20, 'clone-init': 21, setgroups: 22,
  setresgid: 23, setresuid: 24, sethostname: 25, setdomainname: 26, prctl: 27, capset: 28, setrlimit: 29,
  umask: 30, keyring: 31, send: 32, await: 33, fail: 34, pty: 35, setsid: 36, 'set-ctty': 37,
  'chown-stdio': 38, hook: 39, 'find-executable': 40, 'home-from-passwd': 41, 'wait-start': 42,
  'place-fds': 43, 'reset-signals': 44, seccomp: 45, 'send-fd': 46, exec: 47, 'dup-onto': 48, 'capbset-drop': 49, 'mount-setattr': 50, 'copy-tree': 51,
  'sched-setattr': 52, 'ioprio-set': 53, personality: 54, 'sched-setaffinity': 55, 'set-mempolicy': 56,
};

/** A mount op with the usual defaults: no slots, no NULLs but the ones asked for, no errno ignored. */
export function mountOp(label: string, fields: Partial<Extract<StageOp, { op: 'mount' }>> & { target: string }): StageOp {
  return {
    op: 'mount', label, source: null, sourceFd: null, targetFd: null, fstype: null, flags: 0, data: null, ignoreErrno: 0, onlyAfterIgnored: false, modeOfTarget: false, ...fields,
  };
}

/** Allocates slots for the fds a plan's stage opens itself. */
export class SlotAllocator {
  private next = FIRST_RUNTIME_SLOT;
  take(): Slot {
    if (this.next >= MAX_SLOTS) throw new Error(`internal: a plan needs more than ${MAX_SLOTS - FIRST_RUNTIME_SLOT} fd slots`);
    return this.next++;
  }
}
