/**
 * A seccomp agent for the tests, run as its own process:
 *
 *   node seccomp-listener.js SOCKET MODE TIMEOUT_MS
 *
 * It listens on the unix socket SOCKET, accepts one connection, reads the container process
 * state and the fds sent with SCM_RIGHTS (Node's net module cannot receive fds, hence koffi),
 * and then, by MODE:
 *   close         closes the notify fd at once: notified syscalls then fail with ENOSYS;
 *   errno:N       answers the first notification with -N, then closes the fd;
 *   continue      lets the first notification's syscall run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
 * Every event is one JSON line on stdout; it gives up after TIMEOUT_MS, so a test never hangs.
 */
import fs from 'node:fs';
import koffi from 'koffi';

type Fn<A extends unknown[], R> = (...args: A) => R;
const libc = koffi.load('libc.so.6');
const fn = <A extends unknown[], R>(prototype: string) => libc.func(prototype) as unknown as Fn<A, R>;
const c = {
  socket: fn<[number, number, number], number>('int socket(int domain, int type, int protocol)'),
  bind: fn<[number, Buffer, number], number>('int bind(int fd, const void *addr, uint32_t len)'),
  listen: fn<[number, number], number>('int listen(int fd, int backlog)'),
  accept: fn<[number, null, null], number>('int accept(int fd, void *addr, void *len)'),
  recvmsg: fn<[number, Buffer, number], number>('long recvmsg(int fd, void *msg, int flags)'),
  poll: fn<[Buffer, number, number], number>('int poll(void *fds, unsigned long n, int timeout)'),
  ioctl: fn<[number, number, Buffer], number>('int ioctl(int fd, unsigned long request, void *arg)'),
  close: fn<[number], number>('int close(int fd)'),
};

const [socketPath, mode = 'close', timeoutText = '20000'] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutText);
const emit = (event: Record<string, unknown>) => fs.writeSync(1, `${JSON.stringify(event)}\n`);
function die(message: string): never {
  emit({ event: 'error', message, errno: koffi.errno() });
  process.exit(1);
}

/** Waits until `fd` is readable; false once the deadline passed. */
function readable(fd: number): boolean {
  const pollfd = Buffer.alloc(8);
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(1 /* POLLIN */, 4);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    const rc = c.poll(pollfd, 1, Math.min(left, 1000));
    if (rc > 0) return true;
    if (rc < 0 && koffi.errno() !== 4) die('poll');
  }
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const server = c.socket(AF_UNIX, SOCK_STREAM, 0);
if (server < 0) die('socket');
const address = Buffer.alloc(110);
address.writeUInt16LE(AF_UNIX, 0);
Buffer.from(socketPath!).copy(address, 2);
if (c.bind(server, address, 110) < 0) die('bind');
if (c.listen(server, 1) < 0) die('listen');
emit({ event: 'listening' });

if (!readable(server)) die('timed out waiting for a connection');
const conn = c.accept(server, null, null);
if (conn < 0) die('accept');
emit({ event: 'connected' });

// Read until EOF (the runtime closes the connection after one state); fds come with the first bytes.
const chunks: Buffer[] = [];
const fds: number[] = [];
for (;;) {
  if (!readable(conn)) die('timed out waiting for the container process state');
  const data = Buffer.alloc(65536);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(koffi.address(data), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  const control = Buffer.alloc(64);
  const msghdr = Buffer.alloc(56);
  msghdr.writeBigUInt64LE(koffi.address(iov), 16);
  msghdr.writeBigUInt64LE(1n, 24);
  msghdr.writeBigUInt64LE(koffi.address(control), 32);
  msghdr.writeBigUInt64LE(BigInt(control.length), 40);
  const count = Number(c.recvmsg(conn, msghdr, 0x40000000 /* MSG_CMSG_CLOEXEC */));
  if (count < 0) die('recvmsg');
  const controlLength = Number(msghdr.readBigUInt64LE(40));
  if (controlLength >= 16 && control.readInt32LE(8) === 1 && control.readInt32LE(12) === 1) {
    const cmsgLen = Number(control.readBigUInt64LE(0));
    for (let offset = 16; offset + 4 <= cmsgLen; offset += 4) fds.push(control.readInt32LE(offset));
  }
  if (count === 0) break;
  chunks.push(data.subarray(0, count));
}
c.close(conn);
const text = Buffer.concat(chunks).toString('utf8');
let state: unknown;
try {
  state = JSON.parse(text);
} catch {
  die(`not JSON: ${text}`);
}
emit({ event: 'state', state, fdCount: fds.length, fdTarget: fds[0] === undefined ? null : fs.readlinkSync(`/proc/self/fd/${fds[0]}`) });
const notifyFd = fds[0];
if (notifyFd === undefined) die('no fd received');

const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

if (mode === 'close') {
  c.close(notifyFd);
  emit({ event: 'closed' });
  process.exit(0);
}

if (!readable(notifyFd)) die('timed out waiting for a notification');
// struct seccomp_notif { u64 id; u32 pid; u32 flags; struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; } }
const notif = Buffer.alloc(80);
if (c.ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_RECV, notif) < 0) die('SECCOMP_IOCTL_NOTIF_RECV');
const id = notif.readBigUInt64LE(0);
const pid = notif.readUInt32LE(8);
const nr = notif.readInt32LE(16);
const args = Array.from({ length: 6 }, (_, i) => notif.readBigUInt64LE(32 + 8 * i).toString());
emit({ event: 'notification', pid, nr, arch: notif.readUInt32LE(20), args });
// struct seccomp_notif_resp { u64 id; s64 val; s32 error; u32 flags; }
const response = Buffer.alloc(24);
response.writeBigUInt64LE(id, 0);
if (mode === 'continue') response.writeUInt32LE(SECCOMP_USER_NOTIF_FLAG_CONTINUE, 20);
else response.writeInt32LE(-Number(mode.replace(/^errno:/, '')), 16);
if (c.ioctl(notifyFd, SECCOMP_IOCTL_NOTIF_SEND, response) < 0) die('SECCOMP_IOCTL_NOTIF_SEND');
emit({ event: 'answered' });
c.close(notifyFd);
process.exit(0);
