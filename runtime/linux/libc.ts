/**
 * The only module that loads koffi and declares libc symbols. Every other module calls the
 * kernel through the typed wrappers here, which throw SyscallError (with the errno name and
 * the caller's context) instead of returning -1. Nothing is loaded or declared until a wrapper
 * is first called: `delete` needs flock alone, and each declaration costs start-up time and
 * the waiting init memory.
 */
import fs from 'node:fs';
import nodeModule from 'node:module';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { SyscallError } from '../errors.js';
import { distDir } from '../install-paths.js';

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
  // Registered by name for the prototypes below.
  koffi.struct('tsrunc_rlimit', { cur: 'uint64_t', max: 'uint64_t' });
  koffi.struct('tsrunc_cap_header', { version: 'uint32_t', pid: 'int' });
  koffi.struct('tsrunc_open_how', { flags: 'uint64_t', mode: 'uint64_t', resolve: 'uint64_t' });
  koffi.struct('tsrunc_cap_data', {
    effective: 'uint32_t',
    permitted: 'uint32_t',
    inheritable: 'uint32_t',
  });
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
    throw new SyscallError(call, errno, errnoName(errno), context);
  }
  return value;
}

/** open(2) flags (x86_64 values), for every caller of open/openat/openat2. */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NOCTTY = 0o400;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

type Fn<A extends unknown[], R> = (...args: A) => R;
/** A libc function declared on its first call, or earlier by `declareNow`. */
type Lazy<A extends unknown[], R> = Fn<A, R> & { declareNow(): void };
function declare<A extends unknown[], R>(prototype: string): Lazy<A, R> {
  let declared: Fn<A, R> | undefined;
  const declareNow = () => (declared ??= lib().func(prototype) as unknown as Fn<A, R>);
  return Object.assign((...args: A) => declareNow()(...args), { declareNow });
}

const c = {
  unshare: declare<[number], number>('int unshare(int flags)'),
  setns: declare<[number, number], number>('int setns(int fd, int nstype)'),
  mount: declare<[string | null, string, string | null, number, string | null], number>(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ),
  umount2: declare<[string, number], number>('int umount2(const char *target, int flags)'),
  syscall2s: declare<[number, ...unknown[]], number>('long syscall(long number, ...)'),
  chroot: declare<[string], number>('int chroot(const char *path)'),
  chdir: declare<[string], number>('int chdir(const char *path)'),
  fchdir: declare<[number], number>('int fchdir(int fd)'),
  sethostname: declare<[string, number], number>('int sethostname(const char *name, size_t len)'),
  setdomainname: declare<[string, number], number>('int setdomainname(const char *name, size_t len)'),
  mknod: declare<[string, number, number], number>('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
  mkfifo: declare<[string, number], number>('int mkfifo(const char *path, uint32_t mode)'),
  open: declare<[string, number, number], number>('int open(const char *path, int flags, uint32_t mode)'),
  openat: declare<[number, string, number, number], number>(
    'int openat(int dirfd, const char *path, int flags, uint32_t mode)',
  ),
  mkdirat: declare<[number, string, number], number>('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  mknodat: declare<[number, string, number, number], number>(
    'int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)',
  ),
  symlinkat: declare<[string, number, string], number>('int symlinkat(const char *target, int dirfd, const char *path)'),
  unlinkat: declare<[number, string, number], number>('int unlinkat(int dirfd, const char *path, int flags)'),
  fchownat: declare<[number, string, number, number, number], number>(
    'int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)',
  ),
  readlinkat: declare<[number, string, Buffer, number], number>(
    'long readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t size)',
  ),
  close: declare<[number], number>('int close(int fd)'),
  write: declare<[number, Buffer, number], number>('long write(int fd, const void *buf, size_t count)'),
  flock: declare<[number, number], number>('int flock(int fd, int operation)'),
  fcntl: declare<[number, number, ...unknown[]], number>('int fcntl(int fd, int cmd, ...)'),
  closeRange: declare<[number, number, number], number>('int close_range(uint32_t first, uint32_t last, int flags)'),
  prctl: declare<[number, number, number, number, number], number>(
    'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
  ),
  capset: declare<[unknown, unknown], number>(
    'int capset(tsrunc_cap_header *header, tsrunc_cap_data *data)',
  ),
  setrlimit: declare<[number, unknown], number>('int setrlimit(int resource, const tsrunc_rlimit *rlim)'),
  setresuid: declare<[number, number, number], number>('int setresuid(uint32_t r, uint32_t e, uint32_t s)'),
  setresgid: declare<[number, number, number], number>('int setresgid(uint32_t r, uint32_t e, uint32_t s)'),
  setgroups: declare<[number, number[]], number>('int setgroups(size_t size, const uint32_t *list)'),
  execve: declare<[string, (string | null)[], (string | null)[]], number>(
    'int execve(const char *path, const char **argv, const char **envp)',
  ),
  umask: declare<[number], number>('uint32_t umask(uint32_t mask)'),
  ioctl: declare<[number, number, ...unknown[]], number>('int ioctl(int fd, unsigned long request, ...)'),
  dup3: declare<[number, number, number], number>('int dup3(int oldfd, int newfd, int flags)'),
  setsid: declare<[], number>('int setsid(void)'),
  socketpair: declare<[number, number, number, number[]], number>('int socketpair(int domain, int type, int protocol, _Out_ int *fds)'),
  waitpid: declare<[number, number[], number], number>('int waitpid(int pid, _Out_ int *status, int options)'),
  poll: declare<[Buffer, number, number], number>('int poll(void *fds, unsigned long nfds, int timeout)'),
};

/**
 * Declares now what the init calls after its seccomp filter is loaded (close, capset, execve,
 * write): declaring allocates, and nothing but those calls may reach the filter.
 */
export function declareCallsAfterSeccomp(): void {
  for (const call of [c.close, c.capset, c.execve, c.write]) call.declareNow();
}

const SYS_pivot_root = 155; // x86_64; glibc has no wrapper for pivot_root

export function unshare(flags: number, context: string): void {
  check(c.unshare(flags), 'unshare', context);
}

export function setns(fd: number, nstype: number, context: string): void {
  check(c.setns(fd, nstype), 'setns', context);
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
  context: string,
): void {
  check(c.mount(source, target, fstype, flags, data), 'mount', context);
}

export function umount2(target: string, flags: number, context: string): void {
  check(c.umount2(target, flags), 'umount2', context);
}

export function pivotRoot(newRoot: string, putOld: string, context: string): void {
  check(c.syscall2s(SYS_pivot_root, 'str', newRoot, 'str', putOld), 'pivot_root', context);
}

const SYS_keyctl = 250; // x86_64; glibc has no wrapper for keyctl (libkeyutils does)
const KEYCTL_JOIN_SESSION_KEYRING = 1;
const KEYCTL_SETPERM = 5;
const KEYCTL_DESCRIBE = 6;

/** keyctl(JOIN_SESSION_KEYRING, name): the calling thread's new session keyring; returns its id. */
export function keyctlJoinSessionKeyring(name: string, context: string): number {
  return check(c.syscall2s(SYS_keyctl, 'int', KEYCTL_JOIN_SESSION_KEYRING, 'str', name), 'keyctl', context);
}

/** keyctl(DESCRIBE): "type;uid;gid;perm;description" of a key. */
export function keyctlDescribe(key: number, context: string): string {
  const buffer = Buffer.alloc(512);
  const length = check(c.syscall2s(SYS_keyctl, 'int', KEYCTL_DESCRIBE, 'int', key, 'void *', buffer, 'size_t', buffer.length), 'keyctl', context);
  return buffer.subarray(0, Math.max(0, Math.min(length, buffer.length) - 1)).toString();
}

export function keyctlSetPerm(key: number, perm: number, context: string): void {
  check(c.syscall2s(SYS_keyctl, 'int', KEYCTL_SETPERM, 'int', key, 'uint32_t', perm), 'keyctl', context);
}

const SYS_bpf = 321; // x86_64; glibc has no wrapper for bpf

/** bpf(2) with `attr`, a union bpf_attr laid out by the caller; returns the result (an fd for loads). */
export function bpf(cmd: number, attr: Buffer, context: string): number {
  return check(c.syscall2s(SYS_bpf, 'int', cmd, 'void *', attr, 'int', attr.length), 'bpf', context);
}

/** Where a Buffer's bytes are, for the pointer fields of a hand-built struct (a bpf_attr). */
export function addressOf(buffer: Buffer): bigint {
  return ffi().address(buffer);
}

export function chroot(path: string, context: string): void {
  check(c.chroot(path), 'chroot', context);
}

export function chdir(path: string, context: string): void {
  check(c.chdir(path), 'chdir', context);
}

export function fchdir(fd: number, context: string): void {
  check(c.fchdir(fd), 'fchdir', context);
}

export function sethostname(name: string, context: string): void {
  check(c.sethostname(name, Buffer.byteLength(name)), 'sethostname', context);
}

export function setdomainname(name: string, context: string): void {
  check(c.setdomainname(name, Buffer.byteLength(name)), 'setdomainname', context);
}

export function mknod(path: string, mode: number, dev: number, context: string): void {
  check(c.mknod(path, mode, dev), 'mknod', context);
}

export function mkfifo(path: string, mode: number, context: string): void {
  check(c.mkfifo(path, mode), 'mkfifo', context);
}

export function open(path: string, flags: number, mode: number, context: string): number {
  return check(c.open(path, flags, mode), 'open', context);
}

export function openat(dirfd: number, path: string, flags: number, mode: number, context: string): number {
  return check(c.openat(dirfd, path, flags, mode), 'openat', context);
}

const SYS_openat2 = 437; // x86_64; glibc has no wrapper for openat2
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

/** openat2(2): `path` resolved from `dirfd` under the RESOLVE_* rules in `resolve`. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number, context: string): number {
  const how = { flags, mode, resolve };
  return check(c.syscall2s(SYS_openat2, 'int', dirfd, 'str', path, 'tsrunc_open_how *', how, 'size_t', 24), 'openat2', context);
}

export function mkdirat(dirfd: number, path: string, mode: number, context: string): void {
  check(c.mkdirat(dirfd, path, mode), 'mkdirat', context);
}

export function mknodat(dirfd: number, path: string, mode: number, dev: number, context: string): void {
  check(c.mknodat(dirfd, path, mode, dev), 'mknodat', context);
}

export function symlinkat(target: string, dirfd: number, path: string, context: string): void {
  check(c.symlinkat(target, dirfd, path), 'symlinkat', context);
}

export function unlinkat(dirfd: number, path: string, flags: number, context: string): void {
  check(c.unlinkat(dirfd, path, flags), 'unlinkat', context);
}

export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number, context: string): void {
  check(c.fchownat(dirfd, path, uid, gid, flags), 'fchownat', context);
}

/** The target of the symlink `path` (relative to `dirfd`; "" reads an O_PATH fd to the link itself). */
export function readlinkat(dirfd: number, path: string, context: string): string {
  const buffer = Buffer.alloc(4096);
  const length = check(c.readlinkat(dirfd, path, buffer, buffer.length), 'readlinkat', context);
  return buffer.subarray(0, length).toString();
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

export const LOCK_EX = 2;
export function flock(fd: number, operation: number, context: string): void {
  check(c.flock(fd, operation), 'flock', context);
}

const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;

/** Clears close-on-exec and O_NONBLOCK so `fd` reaches the exec'd program as a plain fd. */
export function makeInheritable(fd: number, context: string): void {
  const fdFlags = check(c.fcntl(fd, F_GETFD), 'fcntl(F_GETFD)', context);
  check(c.fcntl(fd, F_SETFD, 'int', fdFlags & ~FD_CLOEXEC), 'fcntl(F_SETFD)', context);
  const statusFlags = check(c.fcntl(fd, F_GETFL), 'fcntl(F_GETFL)', context);
  if (statusFlags & O_NONBLOCK) {
    check(c.fcntl(fd, F_SETFL, 'int', statusFlags & ~O_NONBLOCK), 'fcntl(F_SETFL)', context);
  }
}

export function isOpen(fd: number): boolean {
  return c.fcntl(fd, F_GETFD) >= 0;
}

const CLOSE_RANGE_CLOEXEC = 4;
/** Marks every fd from `first` up close-on-exec, so nothing Node holds leaks into the container. */
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

export interface CapabilityWords {
  effective: [number, number];
  permitted: [number, number];
  inheritable: [number, number];
}

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
export function capset(words: CapabilityWords, context: string): void {
  const header = { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
  const data = [0, 1].map((i) => ({
    effective: words.effective[i] >>> 0,
    permitted: words.permitted[i] >>> 0,
    inheritable: words.inheritable[i] >>> 0,
  }));
  check(c.capset(header, data), 'capset', context);
}

export function setrlimit(resource: number, soft: bigint, hard: bigint, context: string): void {
  check(c.setrlimit(resource, { cur: soft, max: hard }), 'setrlimit', context);
}

export function setresuid(uid: number, context: string): void {
  check(c.setresuid(uid, uid, uid), 'setresuid', context);
}

export function setresgid(gid: number, context: string): void {
  check(c.setresgid(gid, gid, gid), 'setresgid', context);
}

export function setgroups(gids: number[], context: string): void {
  check(c.setgroups(gids.length, gids.length > 0 ? gids : [0]), 'setgroups', context);
}

/** Replaces this process; returns only by throwing. */
export function execve(path: string, argv: string[], envp: string[], context: string): never {
  check(c.execve(path, [...argv, null], [...envp, null]), 'execve', context);
  throw new Error('execve returned without an error');
}

export function umask(mask: number): number {
  return c.umask(mask);
}

/** ioctl(2) whose argument is a pointer to `arg` (an int in, or an int out): returns the int after. */
export function ioctlInt(fd: number, request: number, arg: number, context: string): number {
  const value = Buffer.alloc(4);
  value.writeInt32LE(arg);
  check(c.ioctl(fd, request, 'void *', value), 'ioctl', context);
  return value.readInt32LE();
}

/** ioctl(2) whose argument is a plain integer (e.g. TIOCSCTTY's); returns the result. */
export function ioctlValue(fd: number, request: number, arg: number, context: string): number {
  return check(c.ioctl(fd, request, 'long', arg), 'ioctl', context);
}

/** ioctl(2) whose argument points at a caller-laid-out struct (e.g. struct winsize). */
export function ioctlBuffer(fd: number, request: number, arg: Buffer, context: string): void {
  check(c.ioctl(fd, request, 'void *', arg), 'ioctl', context);
}

/** dup3(2): `oldfd` also at `newfd` (flags 0: not close-on-exec). `oldfd === newfd` only clears close-on-exec. */
export function dup2(oldfd: number, newfd: number, context: string): void {
  if (oldfd === newfd) {
    makeInheritable(newfd, context);
    return;
  }
  check(c.dup3(oldfd, newfd, 0), 'dup3', context);
}

export function setsid(context: string): void {
  check(c.setsid(), 'setsid', context);
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

const WNOHANG = 1;
/** Reaps `pid` if it has exited: its exit code or the signal that killed it; undefined while it runs. */
export function reapIfExited(pid: number, context: string): { code: number | null; signal: number | null } | undefined {
  const status = [0];
  if (check(c.waitpid(pid, status, WNOHANG), 'waitpid', context) === 0) return undefined;
  const raw = status[0]!;
  const signal = raw & 0x7f;
  return signal === 0 ? { code: (raw >> 8) & 0xff, signal: null } : { code: null, signal };
}

const SYS_open_tree = 428; // x86_64; glibc 2.36 has no wrappers for the new mount API
const SYS_move_mount = 429;
const SYS_mount_setattr = 442;
export const OPEN_TREE_CLONE = 1;
export const AT_RECURSIVE = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;

/** open_tree(2): a detached copy (OPEN_TREE_CLONE) of the mount at `path`, as a close-on-exec fd. */
export function openTree(path: string, flags: number, context: string): number {
  return check(c.syscall2s(SYS_open_tree, 'int', -100, 'str', path, 'uint', flags | O_CLOEXEC), 'open_tree', context);
}

/** open_tree(2) of what `fd` already is (AT_EMPTY_PATH): no path walk, so no permission needed on its parents. */
export function openTreeOf(fd: number, flags: number, context: string): number {
  return check(c.syscall2s(SYS_open_tree, 'int', fd, 'str', '', 'uint', flags | AT_EMPTY_PATH | O_CLOEXEC), 'open_tree', context);
}

/** mount_setattr(2) on the mount `fd` is (AT_EMPTY_PATH); `attr` is a struct mount_attr laid out by the caller. */
export function mountSetattr(fd: number, flags: number, attr: Buffer, context: string): void {
  check(c.syscall2s(SYS_mount_setattr, 'int', fd, 'str', '', 'uint', flags | AT_EMPTY_PATH, 'void *', attr, 'size_t', attr.length), 'mount_setattr', context);
}

/** move_mount(2): attaches the detached mount `fd` on the directory or file `targetFd` is (a /proc/self/fd path is refused). */
export function moveMount(fd: number, targetFd: number, context: string): void {
  check(c.syscall2s(SYS_move_mount, 'int', fd, 'str', '', 'int', targetFd, 'str', '', 'uint', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH), 'move_mount', context);
}

const SYS_pidfd_open = 434; // x86_64

/** pidfd_open(2): an fd that becomes readable when `pid` exits (close-on-exec, as every pidfd). */
export function pidfdOpen(pid: number, context: string): number {
  return check(c.syscall2s(SYS_pidfd_open, 'int', pid, 'uint', 0), 'pidfd_open', context);
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
