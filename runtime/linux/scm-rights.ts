/**
 * Unix stream sockets that carry file descriptors (SCM_RIGHTS): connect to a socket path,
 * sendmsg data plus fds. Node's net module cannot send fds, so this goes through koffi, with
 * struct msghdr/iovec/cmsghdr laid out by hand (the 64-bit layout of every architecture in
 * arch.ts). The libc symbols are declared on first use, so only the commands that pass fds pay.
 */
import { SyscallError, TsruncError } from '../errors.js';
import { close, errnoName, ffi, libcFunction } from './libc.js';

type Fn<A extends unknown[], R> = (...args: A) => R;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000; // a listener that went away is an error here, not a SIGPIPE
const EINTR = 4;
const SUN_PATH_MAX = 108;

interface SocketCalls {
  socket: Fn<[number, number, number], number>;
  connect: Fn<[number, Buffer, number], number>;
  sendmsg: Fn<[number, Buffer, number], number>;
  bind: Fn<[number, Buffer, number], number>;
  listen: Fn<[number, number], number>;
  accept4: Fn<[number, null, null, number], number>;
  recvmsg: Fn<[number, Buffer, number], number>;
}

const calls: SocketCalls = {
  socket: libcFunction('int socket(int domain, int type, int protocol)'),
  connect: libcFunction('int connect(int fd, const void *addr, uint32_t len)'),
  sendmsg: libcFunction('long sendmsg(int fd, const void *msg, int flags)'),
  bind: libcFunction('int bind(int fd, const void *addr, uint32_t len)'),
  listen: libcFunction('int listen(int fd, int backlog)'),
  accept4: libcFunction('int accept4(int fd, void *addr, void *len, int flags)'),
  recvmsg: libcFunction('long recvmsg(int fd, void *msg, int flags)'),
};

function socketCalls(): SocketCalls {
  return calls;
}

function fail(call: string, context: string): never {
  const errno = ffi().errno();
  throw new SyscallError(call, errno, errnoName(errno), context);
}

/** struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; } for `socketPath`. */
function unixAddress(socketPath: string, context: string): { address: Buffer; length: number } {
  const path = Buffer.from(socketPath);
  if (path.length === 0 || path.length >= SUN_PATH_MAX) {
    throw new TsruncError(`${context}: the socket path must be 1 to ${SUN_PATH_MAX - 1} bytes long`);
  }
  const address = Buffer.alloc(2 + SUN_PATH_MAX);
  address.writeUInt16LE(AF_UNIX, 0);
  path.copy(address, 2);
  return { address, length: 2 + path.length + 1 };
}

/** A connected AF_UNIX SOCK_STREAM socket (close-on-exec) to `socketPath`. */
export function connectUnix(socketPath: string, context: string): number {
  const { address, length } = unixAddress(socketPath, context);
  const { socket, connect } = socketCalls();
  const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail('socket', context);
  for (;;) {
    if (connect(fd, address, length) === 0) return fd;
    if (ffi().errno() !== EINTR) break;
  }
  const errno = ffi().errno();
  close(fd);
  throw new SyscallError('connect', errno, errnoName(errno), context);
}

/** Sends all of `data` with `fds` attached to its first byte. */
export function sendWithFds(socketFd: number, data: Buffer, fds: readonly number[], context: string): void {
  let offset = 0;
  let first = true;
  while (first || offset < data.length) {
    const chunk = data.subarray(offset);
    // struct iovec { void *iov_base; size_t iov_len; }
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(ffi().address(chunk), 0);
    iov.writeBigUInt64LE(BigInt(chunk.length), 8);
    const attached = first ? fds : [];
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + int fds[], padded to 8
    const cmsgLen = 16 + 4 * attached.length;
    const control = Buffer.alloc(attached.length > 0 ? (cmsgLen + 7) & ~7 : 0);
    if (attached.length > 0) {
      control.writeBigUInt64LE(BigInt(cmsgLen), 0);
      control.writeInt32LE(SOL_SOCKET, 8);
      control.writeInt32LE(SCM_RIGHTS, 12);
      attached.forEach((fd, i) => control.writeInt32LE(fd, 16 + 4 * i));
    }
    // struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
    //                 void *msg_control; size_t msg_controllen; int msg_flags; }
    const msghdr = Buffer.alloc(56);
    msghdr.writeBigUInt64LE(ffi().address(iov), 16);
    msghdr.writeBigUInt64LE(1n, 24);
    if (control.length > 0) {
      msghdr.writeBigUInt64LE(ffi().address(control), 32);
      msghdr.writeBigUInt64LE(BigInt(control.length), 40);
    }
    const sent = Number(calls.sendmsg(socketFd, msghdr, MSG_NOSIGNAL));
    if (sent < 0) {
      if (ffi().errno() === EINTR) continue;
      fail('sendmsg', context);
    }
    offset += sent;
    first = false;
  }
}

/** A listening AF_UNIX SOCK_STREAM socket (close-on-exec) bound to `socketPath`. */
export function listenUnix(socketPath: string, context: string): number {
  const { address, length } = unixAddress(socketPath, context);
  const { socket, bind, listen } = socketCalls();
  const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail('socket', context);
  if (bind(fd, address, length) !== 0 || listen(fd, 1) !== 0) {
    const errno = ffi().errno();
    close(fd);
    throw new SyscallError('bind/listen', errno, errnoName(errno), context);
  }
  return fd;
}

/**
 * Accepts one connection on `listenFd` and returns the first fd of the first SCM_RIGHTS
 * message on it (blocking: call it once the peer is known to have sent). Any further fds
 * received are closed.
 */
export function receiveOneFd(listenFd: number, context: string): number {
  const { accept4, recvmsg } = socketCalls();
  let connection: number;
  for (;;) {
    connection = accept4(listenFd, null, null, SOCK_CLOEXEC);
    if (connection >= 0) break;
    if (ffi().errno() !== EINTR) fail('accept4', context);
  }
  try {
    const payload = Buffer.alloc(256);
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(ffi().address(payload), 0);
    iov.writeBigUInt64LE(BigInt(payload.length), 8);
    const control = Buffer.alloc(16 + 4 * 8);
    const msghdr = Buffer.alloc(56);
    msghdr.writeBigUInt64LE(ffi().address(iov), 16);
    msghdr.writeBigUInt64LE(1n, 24);
    msghdr.writeBigUInt64LE(ffi().address(control), 32);
    msghdr.writeBigUInt64LE(BigInt(control.length), 40);
    const MSG_CMSG_CLOEXEC = 0x40000000;
    for (;;) {
      const received = Number(recvmsg(connection, msghdr, MSG_CMSG_CLOEXEC));
      if (received >= 0) break;
      if (ffi().errno() !== EINTR) fail('recvmsg', context);
    }
    const controlLength = Number(msghdr.readBigUInt64LE(40));
    const cmsgLength = controlLength >= 16 ? Number(control.readBigUInt64LE(0)) : 0;
    if (cmsgLength < 20 || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
      throw new TsruncError(`${context}: the peer sent no file descriptor`);
    }
    const fds: number[] = [];
    for (let offset = 16; offset + 4 <= cmsgLength; offset += 4) fds.push(control.readInt32LE(offset));
    for (const extra of fds.slice(1)) close(extra);
    return fds[0]!;
  } finally {
    close(connection);
  }
}
