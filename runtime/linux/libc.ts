/**
 * The only module that loads koffi and libc. Every other module calls the kernel through the
 * typed wrappers here, which throw SyscallError (with the errno name and the caller's context)
 * instead of returning -1, or declares its own libc function through libcFunction. Nothing is
 * loaded or declared until a wrapper is first called: `delete` needs flock alone, and each
 * declaration costs start-up time. System call numbers are in arch.ts.
 */
import fs from 'node:fs';
import nodeModule from 'node:module';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { SyscallError, TsruncError } from '../errors.js';
import { distDir } from '../install-paths.js';
import { arch } from './arch.js';
import { isDebugOn, logDebug } from '../log.js';

export type Koffi = typeof import('koffi');
type LibraryHandle = ReturnType<Koffi['load']>;

let koffiModule: Koffi | undefined;

/**
 * koffi itself, loaded on first use. Its entry file spends ~4 ms reading node's ELF headers to
 * pick the prebuilt binary that fits this libc and ABI, and resolving package names costs ~1 ms
 * each. tsrunc runs on glibc only (it loads libc.so.6), and the checkout and the installed copy
 * both keep node_modules next to dist/, so the prebuilt binary is opened by its path when its
 * version is koffi's; otherwise koffi's own loader finds it.
 */
export function ffi(): Koffi {
  if (koffiModule) return koffiModule;
  const nodeModules = path.join(distDir, '..', 'node_modules');
  const { platform, arch } = process;
  const prebuilt = path.join(nodeModules, '@koromix', `koffi-${platform}-${arch}`, `${platform}_${arch}`, 'koffi.node');
  try {
    const addon = { exports: {} as Koffi & { version?: string } };
    process.dlopen(addon, prebuilt);
    const wanted = (JSON.parse(fs.readFileSync(path.join(nodeModules, 'koffi', 'package.json'), 'utf8')) as { version: string }).version;
    if (addon.exports.version === wanted) return (koffiModule = addon.exports);
  } catch {
    // another layout: koffi's loader below
  }
  return (koffiModule = nodeModule.createRequire(import.meta.url)('koffi') as Koffi);
}

let libcHandle: LibraryHandle | undefined;
function lib(): LibraryHandle {
  if (libcHandle) return libcHandle;
  const koffi = ffi();
  libcHandle = koffi.load('libc.so.6');
  return libcHandle;
}

// Some numbers have two names (EAGAIN/EWOULDBLOCK, ENOTSUP/EOPNOTSUPP): keep the first, the usual one.
let errnoNames: Map<number, string> | undefined;

export function errnoName(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(osConstants.errno)) {
      if (!errnoNames.has(value)) errnoNames.set(value, name);
    }
  }
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** Throws a SyscallError built from the current errno when `result` is negative. */
function check(result: number | bigint, call: string, context: string): number {
  const value = Number(result);
  if (value < 0) {
    const errno = ffi().errno();
    if (isDebugOn()) logDebug(`${call}: ${errnoName(errno)} (${context})`);
    throw new SyscallError(call, errno, errnoName(errno), context);
  }
  // --debug: every call tsrunc makes through koffi, in order, with what it was for.
  if (isDebugOn()) logDebug(`${call} = ${value} (${context})`);
  return value;
}

/** open(2) flags: Node's own constants where it has them (some differ between architectures). */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NOCTTY = fs.constants.O_NOCTTY;
export const O_CREAT = fs.constants.O_CREAT;
export const O_EXCL = fs.constants.O_EXCL;
export const O_TRUNC = fs.constants.O_TRUNC;
export const O_NONBLOCK = fs.constants.O_NONBLOCK;
export const O_DIRECTORY = fs.constants.O_DIRECTORY;
export const O_NOFOLLOW = fs.constants.O_NOFOLLOW;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000; // the same on every architecture arch.ts knows

type Fn<A extends unknown[], R> = (...args: A) => R;
/** A libc function declared on its first call. */
type Lazy<A extends unknown[], R> = Fn<A, R>;

/**
 * Declares a libc function on its first call. Other modules that need a libc function of
 * their own (scm-rights.ts, libseccomp.ts) declare it here too: libc is loaded once.
 */
export function libcFunction<A extends unknown[], R>(prototype: string): Lazy<A, R> {
  let declared: Fn<A, R> | undefined;
  return (...args: A) => (declared ??= lib().func(prototype) as unknown as Fn<A, R>)(...args);
}

const c = {
  syscall: libcFunction<[number, ...unknown[]], number>('long syscall(long number, ...)'),
  mkfifo: libcFunction<[string, number], number>('int mkfifo(const char *path, uint32_t mode)'),
  open: libcFunction<[string, number, number], number>('int open(const char *path, int flags, uint32_t mode)'),
  close: libcFunction<[number], number>('int close(int fd)'),
  write: libcFunction<[number, Buffer, number], number>('long write(int fd, const void *buf, size_t count)'),
  read: libcFunction<[number, Buffer, number], number>('long read(int fd, void *buf, size_t count)'),
  eventfd: libcFunction<[number, number], number>('int eventfd(unsigned int initval, int flags)'),
  flock: libcFunction<[number, number], number>('int flock(int fd, int operation)'),
  fcntl: libcFunction<[number, number, ...unknown[]], number>('int fcntl(int fd, int cmd, ...)'),
  closeRange: libcFunction<[number, number, number], number>('int close_range(uint32_t first, uint32_t last, int flags)'),
  prctl: libcFunction<[number, number, number, number, number], number>(
    'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
  ),
  ioctl: libcFunction<[number, number, ...unknown[]], number>('int ioctl(int fd, unsigned long request, ...)'),
  waitpid: libcFunction<[number, number[], number], number>('int waitpid(int pid, _Out_ int *status, int options)'),
  poll: libcFunction<[Buffer, number, number], number>('int poll(void *fds, unsigned long nfds, int timeout)'),
  memfdCreate: libcFunction<[string, number], number>('int memfd_create(const char *name, unsigned int flags)'),
  sendfile: libcFunction<[number, number, null, number], number>('long sendfile(int out_fd, int in_fd, void *offset, size_t count)'),
  socketpair: libcFunction<[number, number, number, number[]], number>('int socketpair(int domain, int type, int protocol, _Out_ int *fds)'),
  socket: libcFunction<[number, number, number], number>('int socket(int domain, int type, int protocol)'),
  setsockopt: libcFunction<[number, number, number, Buffer, number], number>('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)'),
  send: libcFunction<[number, Buffer, number, number], number>('long send(int fd, const void *buf, size_t count, int flags)'),
  recv: libcFunction<[number, Buffer, number, number], number>('long recv(int fd, void *buf, size_t count, int flags)'),
  setns: libcFunction<[number, number], number>('int setns(int fd, int nstype)'),
  ifNametoindex: libcFunction<[string], number>('unsigned int if_nametoindex(const char *name)'),
  fileActionsInit: libcFunction<[Buffer], number>('int posix_spawn_file_actions_init(void *actions)'),
  fileActionsDup2: libcFunction<[Buffer, number, number], number>('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
  fileActionsDestroy: libcFunction<[Buffer], number>('int posix_spawn_file_actions_destroy(void *actions)'),
  spawnattrInit: libcFunction<[Buffer], number>('int posix_spawnattr_init(void *attr)'),
  spawnattrSetflags: libcFunction<[Buffer, number], number>('int posix_spawnattr_setflags(void *attr, short flags)'),
  spawnattrSetsigdefault: libcFunction<[Buffer, Buffer], number>('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
  spawnattrSetsigmask: libcFunction<[Buffer, Buffer], number>('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
  spawnattrDestroy: libcFunction<[Buffer], number>('int posix_spawnattr_destroy(void *attr)'),
  posixSpawn: libcFunction<[number[], string, Buffer, Buffer, (string | null)[], (string | null)[]], number>(
    'int posix_spawn(_Out_ int *pid, const char *path, const void *actions, const void *attr, const char **argv, const char **envp)',
  ),
};

const SYSCALL = arch;

/** bpf(2) with `attr`, a union bpf_attr laid out by the caller; returns the result (an fd for loads). */
export function bpf(cmd: number, attr: Buffer, context: string): number {
  return check(c.syscall(SYSCALL().syscalls.bpf, 'int', cmd, 'void *', attr, 'int', attr.length), 'bpf', context);
}

/** Where a Buffer's bytes are, for the pointer fields of a hand-built struct (a bpf_attr). */
export function addressOf(buffer: Buffer): bigint {
  return ffi().address(buffer);
}

export function mkfifo(path: string, mode: number, context: string): void {
  check(c.mkfifo(path, mode), 'mkfifo', context);
}

export function open(path: string, flags: number, mode: number, context: string): number {
  return check(c.open(path, flags, mode), 'open', context);
}

export function close(fd: number): void {
  c.close(fd);
}

export function writeAll(fd: number, data: Buffer, context: string): void {
  let offset = 0;
  while (offset < data.length) {
    const chunk = data.subarray(offset);
    offset += check(c.write(fd, chunk, chunk.length), 'write', context);
  }
}

/**
 * eventfd(2), nonblocking and close-on-exec: its reader polls it (readEventfd) from a timer, so a
 * counter that stays 0 for ever never holds Node's event loop or a thread.
 */
export function eventfdNonblocking(context: string): number {
  return check(c.eventfd(0, O_NONBLOCK | O_CLOEXEC), 'eventfd', context);
}

const EAGAIN = osConstants.errno.EAGAIN;
/** One read(2) of a nonblocking eventfd: its counter (then reset to 0 by the kernel), or 0 when nothing was signalled. */
export function readEventfd(fd: number, context: string): bigint {
  const counter = Buffer.alloc(8);
  for (;;) {
    const got = Number(c.read(fd, counter, counter.length));
    if (got < 0 && ffi().errno() === EINTR) continue;
    if (got < 0 && ffi().errno() === EAGAIN) return 0n;
    check(got, 'read', context);
    return counter.readBigUInt64LE(0);
  }
}

export const LOCK_EX = 2;
export function flock(fd: number, operation: number, context: string): void {
  check(c.flock(fd, operation), 'flock', context);
}

const F_GETFD = 1;
const F_ADD_SEALS = 1033;
export const F_SEAL_SEAL = 0x1;
export const F_SEAL_SHRINK = 0x2;
export const F_SEAL_GROW = 0x4;
export const F_SEAL_WRITE = 0x8;

const F_DUPFD_CLOEXEC = 1030;
/** A copy of `fd` at `atLeast` or above, close-on-exec. */
export function dupAbove(fd: number, atLeast: number, context: string): number {
  return check(c.fcntl(fd, F_DUPFD_CLOEXEC, 'int', atLeast), 'fcntl(F_DUPFD_CLOEXEC)', context);
}

export function isOpen(fd: number): boolean {
  return c.fcntl(fd, F_GETFD) >= 0;
}

const CLOSE_RANGE_CLOEXEC = 4;
/** Marks every fd from `first` up close-on-exec. */
export function cloexecFrom(first: number, context: string): void {
  check(c.closeRange(first, 0xffffffff, CLOSE_RANGE_CLOEXEC), 'close_range', context);
}

export function prctl(option: number, a2: number, a3: number, context: string): number {
  return check(c.prctl(option, a2, a3, 0, 0), 'prctl', context);
}

/** prctl that reports failure as a return value: used for probing (e.g. PR_CAPBSET_READ). */
export function prctlRaw(option: number, a2: number): number {
  return c.prctl(option, a2, 0, 0, 0);
}

/** ioctl(2) whose argument points at a caller-laid-out struct (e.g. struct winsize). */
export function ioctlBuffer(fd: number, request: number, arg: Buffer, context: string): void {
  check(c.ioctl(fd, request, 'void *', arg), 'ioctl', context);
}

const NS_GET_NSTYPE = 0xb703;
/** The CLONE_NEW* type of the namespace fd `fd` is (it may be a bind-mounted nsfs file); ENOTTY: not a namespace. */
export function namespaceType(fd: number, context: string): number {
  return check(c.ioctl(fd, NS_GET_NSTYPE), 'ioctl(NS_GET_NSTYPE)', context);
}

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const MFD_EXEC = 0x10;
const EINVAL = 22;

/** An executable memfd (close-on-exec, sealable). MFD_EXEC is needed where memfds default to noexec (Linux 6.3+). */
export function memfdCreate(name: string, context: string): number {
  const fd = c.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd >= 0 || ffi().errno() !== EINVAL) return check(fd, 'memfd_create', context);
  return check(c.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), 'memfd_create', context); // before 6.3
}

/**
 * Copies all of file `from` into `to` in the kernel with sendfile(2), which takes any output
 * file (copy_file_range refuses one on another filesystem, as a memfd is); read and write if not.
 */
export function copyFile(from: number, to: number, length: number, context: string): void {
  let copied = 0;
  while (copied < length) {
    const count = Number(c.sendfile(to, from, null, length - copied));
    if (count > 0) {
      copied += count;
      continue;
    }
    if (count === 0) break;
    const errno = ffi().errno();
    if (errno === EINTR) continue;
    if (copied === 0 && (errno === EINVAL || errno === 38 /* ENOSYS */)) {
      const data = fs.readFileSync(from);
      for (let offset = 0; offset < data.length;) offset += fs.writeSync(to, data, offset);
      return;
    }
    throw new SyscallError('sendfile', errno, errnoName(errno), context);
  }
  if (copied < length) throw new TsruncError(`${context}: the file ended after ${copied} of ${length} bytes`);
}

export function addSeals(fd: number, seals: number, context: string): void {
  check(c.fcntl(fd, F_ADD_SEALS, 'int', seals), 'fcntl(F_ADD_SEALS)', context);
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
/** A connected pair of unix stream sockets, both close-on-exec. */
export function socketpair(context: string): [number, number] {
  const fds = [-1, -1];
  check(c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 'socketpair', context);
  return [fds[0]!, fds[1]!];
}

/** socket(2), made close-on-exec whatever `type` says. */
export function socket(domain: number, type: number, protocol: number, context: string): number {
  return check(c.socket(domain, type | SOCK_CLOEXEC, protocol), 'socket', context);
}

/** setsockopt(2) of an int option. */
export function setsockoptInt(fd: number, level: number, name: number, value: number, context: string): void {
  const data = Buffer.alloc(4);
  data.writeInt32LE(value);
  check(c.setsockopt(fd, level, name, data, data.length), 'setsockopt', context);
}

/** send(2) of one whole datagram (a netlink request). */
export function sendDatagram(fd: number, data: Buffer, context: string): void {
  for (;;) {
    const sent = Number(c.send(fd, data, data.length, 0));
    if (sent < 0 && ffi().errno() === EINTR) continue;
    if (check(sent, 'send', context) !== data.length) throw new TsruncError(`${context}: send: ${sent} of ${data.length} bytes sent`);
    return;
  }
}

/** recv(2) of one datagram into `buffer`; returns its length. A signal's interruption is resumed. */
export function recvDatagram(fd: number, buffer: Buffer, context: string): number {
  for (;;) {
    const received = Number(c.recv(fd, buffer, buffer.length, 0));
    if (received < 0 && ffi().errno() === EINTR) continue;
    return check(received, 'recv', context);
  }
}

/**
 * setns(2) of the calling thread (the main thread: koffi calls run on it). Only for the namespaces
 * a multithreaded process may enter (network, uts, ipc...): the kernel refuses a user namespace
 * to a process with more than one thread, and a mount namespace to one sharing its filesystem
 * state with other threads until it has unshared that (CLONE_NEWNS).
 */
export function setns(fd: number, nstype: number, context: string): void {
  check(c.setns(fd, nstype), 'setns', context);
}

/** if_nametoindex(3) in tsrunc's network namespace: 0 when there is no such device. */
export function ifNameToIndex(name: string): number {
  return c.ifNametoindex(name);
}

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/** glibc's posix_spawn_file_actions_t and posix_spawnattr_t (80 and 336 bytes on x86_64 and aarch64), with room to spare. */
const SPAWN_STRUCT_BYTES = 512;
const SIGSET_BYTES = 128;

/**
 * posix_spawn(3) of `path` with fd i of the child being `fds[i]` (every source moved above the
 * list first, so that placing one never overwrites another), every signal at its default and
 * none blocked, an empty environment. glibc clones with CLONE_VM | CLONE_VFORK: no copy of
 * Node's page tables, unlike libuv's fork. Returns the pid.
 */
export function spawnWithFds(path: string, argv: string[], fds: readonly number[], context: string): number {
  const actions = Buffer.alloc(SPAWN_STRUCT_BYTES);
  const attr = Buffer.alloc(SPAWN_STRUCT_BYTES);
  const lifted: number[] = [];
  c.fileActionsInit(actions);
  c.spawnattrInit(attr);
  try {
    for (const fd of fds) lifted.push(dupAbove(fd, fds.length, context));
    lifted.forEach((fd, i) => {
      const rc = c.fileActionsDup2(actions, fd, i);
      if (rc !== 0) throw new SyscallError('posix_spawn_file_actions_adddup2', rc, errnoName(rc), context);
    });
    c.spawnattrSetflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    c.spawnattrSetsigdefault(attr, Buffer.alloc(SIGSET_BYTES, 0xff));
    c.spawnattrSetsigmask(attr, Buffer.alloc(SIGSET_BYTES, 0));
    const pid = [0];
    const rc = c.posixSpawn(pid, path, actions, attr, [...argv, null], [null]);
    if (rc !== 0) throw new SyscallError('posix_spawn', rc, errnoName(rc), context);
    return pid[0]!;
  } finally {
    for (const fd of lifted) close(fd);
    c.fileActionsDestroy(actions);
    c.spawnattrDestroy(attr);
  }
}

const WNOHANG = 1;
/** Reaps `pid` if it has exited: its exit code or the signal that killed it; undefined while it runs. */
export function reapIfExited(pid: number, context: string): { code: number | null; signal: number | null } | undefined {
  const status = [0];
  if (check(c.waitpid(pid, status, WNOHANG), 'waitpid', context) === 0) return undefined;
  const raw = status[0]!;
  const signal = raw & 0x7f;
  return signal === 0 ? { code: (raw >> 8) & 0xff, signal: null } : { code: null, signal };
}

export const OPEN_TREE_CLONE = 1;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;

/** open_tree(2): a detached copy (OPEN_TREE_CLONE) of the mount at `path`, as a close-on-exec fd. */
export function openTree(path: string, flags: number, context: string): number {
  return check(c.syscall(SYSCALL().syscalls.openTree, 'int', -100, 'str', path, 'uint', flags | O_CLOEXEC), 'open_tree', context);
}

/** mount_setattr(2) on the mount `fd` is (AT_EMPTY_PATH); `attr` is a struct mount_attr laid out by the caller. */
export function mountSetattr(fd: number, flags: number, attr: Buffer, context: string): void {
  check(c.syscall(SYSCALL().syscalls.mountSetattr, 'int', fd, 'str', '', 'uint', flags | AT_EMPTY_PATH, 'void *', attr, 'size_t', attr.length), 'mount_setattr', context);
}

/** pidfd_open(2): an fd that becomes readable when `pid` exits (close-on-exec, as every pidfd). */
export function pidfdOpen(pid: number, context: string): number {
  return check(c.syscall(SYSCALL().syscalls.pidfdOpen, 'int', pid, 'uint', 0), 'pidfd_open', context);
}

/** pidfd_send_signal(2): a signal that can only reach the process the pidfd was opened for. */
export function pidfdSendSignal(fd: number, signal: number, context: string): void {
  check(c.syscall(SYSCALL().syscalls.pidfdSendSignal, 'int', fd, 'int', signal, 'void *', null, 'uint', 0), 'pidfd_send_signal', context);
}

/** syscall(2) for the callers that lay out their own arguments (libseccomp.ts's seccomp probe); -1 and errno on failure. */
export function rawSyscall(number: number, ...args: unknown[]): number {
  return Number(c.syscall(number, ...args));
}

export const POLLIN = 0x1;
export const POLLHUP = 0x10;
const EINTR = 4;

/**
 * poll(2): blocks until one of `fds` has one of its `events`, or `timeoutMs` passes (-1: no
 * limit); returns each fd's revents (all 0 on timeout). A signal's interruption is resumed.
 */
export function poll(fds: { fd: number; events: number }[], timeoutMs: number, context: string): number[] {
  const entries = Buffer.alloc(8 * fds.length); // struct pollfd { int fd; short events; short revents; }
  fds.forEach(({ fd, events }, i) => {
    entries.writeInt32LE(fd, 8 * i);
    entries.writeInt16LE(events, 8 * i + 4);
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = timeoutMs < 0 ? -1 : Math.max(0, deadline - Date.now());
    const result = c.poll(entries, fds.length, left);
    if (result < 0 && ffi().errno() === EINTR) continue;
    check(result, 'poll', context);
    return fds.map((_, i) => entries.readInt16LE(8 * i + 6));
  }
}
