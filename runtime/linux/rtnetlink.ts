/**
 * rtnetlink (netlink(7), rtnetlink(7)) for net-devices.ts: look a link up, list its addresses,
 * move or rename it, set it up or down, add an address. tsrunc runs no `ip`: the messages are
 * laid out here by hand, one request at a time, each acknowledged by the kernel, over a
 * NETLINK_ROUTE socket of the network namespace the socket was made in.
 */
import { SyscallError, TsruncError } from '../errors.js';
import { close, errnoName, open, O_CLOEXEC, O_RDONLY, recvDatagram, sendDatagram, setns, setsockoptInt, socket } from './libc.js';
import { CLONE_NEWNET } from './namespaces.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP_INTR = 0x10;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLM_F_DUMP = 0x300;
const NLMSGERR_ATTR_MSG = 1;

const IFLA_IFNAME = 3;
const IFLA_NET_NS_FD = 28;
const IFF_UP = 0x1;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_BROADCAST = 4;
export const IFA_FLAGS = 8;
export const IFA_RT_PRIORITY = 9;
export const IFA_F_PERMANENT = 0x80;
export const RT_SCOPE_UNIVERSE = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
/** The address flags a user may set (RTM_NEWADDR): others are the kernel's own state. */
const IFA_SETTABLE_FLAGS = 0x02 /* NODAD */ | 0x10 /* HOMEADDRESS */ | 0x100 /* MANAGETEMPADDR */ | 0x200 /* NOPREFIXROUTE */ | 0x400; /* MCAUTOJOIN */

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const ENODEV = 19;
/** A dump the kernel says changed under it (NLM_F_DUMP_INTR) is read again, this many times at most. */
const DUMP_ATTEMPTS = 5;

export interface Link {
  index: number;
  name: string;
  up: boolean;
}

/** One address of a link, as RTM_GETADDR reports it: enough to add it again elsewhere. */
export interface Address {
  family: number;
  prefixLength: number;
  /** IFA_FLAGS when the kernel sends it (it has more bits than ifa_flags), else ifa_flags. */
  flags: number;
  scope: number;
  /** rtattr type → value; IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST, IFA_RT_PRIORITY are kept. */
  attributes: Map<number, Buffer>;
}

const align4 = (n: number) => (n + 3) & ~3;

/** struct rtattr { u16 len; u16 type; } followed by its value, padded to 4 bytes. */
export function rtattr(type: number, value: Buffer): Buffer {
  const attribute = Buffer.alloc(align4(4 + value.length));
  attribute.writeUInt16LE(4 + value.length, 0);
  attribute.writeUInt16LE(type, 2);
  value.copy(attribute, 4);
  return attribute;
}

const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
};
const cString = (text: string) => Buffer.concat([Buffer.from(text), Buffer.alloc(1)]);

/** struct ifinfomsg: family, type, index, flags, change. */
export function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/** The rtattrs of `data` from `offset` on, type → value (the nested-attribute bit masked off). */
export function parseAttributes(data: Buffer, offset: number): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  while (offset + 4 <= data.length) {
    const length = data.readUInt16LE(offset);
    if (length < 4 || offset + length > data.length) break;
    found.set(data.readUInt16LE(offset + 2) & 0x3fff, data.subarray(offset + 4, offset + length));
    offset += align4(length);
  }
  return found;
}

/** An address as people write it (10.1.2.3/24, or IPv6 in full groups), for messages. */
export function formatAddress(address: Address): string {
  const value = address.attributes.get(IFA_LOCAL) ?? address.attributes.get(IFA_ADDRESS) ?? Buffer.alloc(0);
  const text = address.family === AF_INET
    ? [...value].join('.')
    : Array.from({ length: value.length / 2 }, (_, i) => value.readUInt16BE(2 * i).toString(16)).join(':');
  return `${text}/${address.prefixLength}`;
}

interface Message {
  type: number;
  flags: number;
  body: Buffer;
}

export class RouteSocket {
  private seq = 0;
  private readonly buffer = Buffer.alloc(65536);

  /** `where` names the namespace in errors: "the host", "the container's network namespace". */
  private constructor(private readonly fd: number, readonly where: string) {}

  /** A socket of tsrunc's own network namespace. */
  static open(where: string): RouteSocket {
    const fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, `opening an rtnetlink socket in ${where}`);
    try {
      // The kernel then says why it refused (e.g. "Invalid name") besides the errno; old kernels lack it.
      setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, `asking for extended netlink errors in ${where}`);
    } catch {
      // the errno alone then
    }
    return new RouteSocket(fd, where);
  }

  /**
   * A socket of the network namespace `netnsFd` is: the main thread enters it, makes the socket
   * (a socket stays in the namespace it was made in) and returns to `homeFd`, its own.
   */
  static openIn(netnsFd: number, homeFd: number, where: string): RouteSocket {
    setns(netnsFd, CLONE_NEWNET, `entering ${where} to open an rtnetlink socket there`);
    try {
      return RouteSocket.open(where);
    } finally {
      // Failing here would leave tsrunc working in the wrong namespace: nothing may go on.
      setns(homeFd, CLONE_NEWNET, `returning to tsrunc's own network namespace from ${where}`);
    }
  }

  close(): void {
    close(this.fd);
  }

  /** The link of that name or index; undefined when there is none (ENODEV). */
  link(which: string | number, context: string): Link | undefined {
    const body = typeof which === 'number'
      ? ifinfomsg(which)
      : Buffer.concat([ifinfomsg(0), rtattr(IFLA_IFNAME, cString(which))]);
    let replies: Message[];
    try {
      replies = this.exchange(RTM_GETLINK, NLM_F_REQUEST, body, context, 'reply');
    } catch (error) {
      if (error instanceof SyscallError && error.errno === ENODEV) return undefined;
      throw error;
    }
    const reply = replies.find((m) => m.type === RTM_NEWLINK);
    if (!reply) throw new TsruncError(`${context}: the kernel answered RTM_GETLINK without a link`);
    const attributes = parseAttributes(reply.body, IFINFOMSG_LEN);
    const name = attributes.get(IFLA_IFNAME) ?? Buffer.alloc(0);
    const end = name.indexOf(0);
    return {
      index: reply.body.readInt32LE(4),
      name: name.subarray(0, end < 0 ? name.length : end).toString(),
      up: (reply.body.readUInt32LE(8) & IFF_UP) !== 0,
    };
  }

  /** Every address of link `index`, of every family. */
  addresses(index: number, context: string): Address[] {
    const request = Buffer.alloc(IFADDRMSG_LEN); // family AF_UNSPEC: all of them
    const found: Address[] = [];
    for (const reply of this.exchange(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, request, context, 'dump')) {
      if (reply.type !== RTM_NEWADDR || reply.body.readUInt32LE(4) !== index) continue;
      const all = parseAttributes(reply.body, IFADDRMSG_LEN);
      const flags = all.get(IFA_FLAGS);
      const attributes = new Map<number, Buffer>();
      for (const type of [IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST, IFA_RT_PRIORITY]) {
        const value = all.get(type);
        if (value) attributes.set(type, Buffer.from(value));
      }
      found.push({
        family: reply.body.readUInt8(0),
        prefixLength: reply.body.readUInt8(1),
        flags: flags && flags.length >= 4 ? flags.readUInt32LE(0) : reply.body.readUInt8(2),
        scope: reply.body.readUInt8(3),
        attributes,
      });
    }
    return found;
  }

  /**
   * RTM_NEWLINK on link `index`: into the network namespace `netnsFd` is (IFLA_NET_NS_FD), under
   * `name` (IFLA_IFNAME; in the same request, so the name is only ever taken in the namespace
   * it lands in), and up or down.
   */
  setLink(index: number, change: { netnsFd?: number; name?: string; up?: boolean }, context: string): void {
    const parts: Buffer[] = [ifinfomsg(index, change.up ? IFF_UP : 0, change.up === undefined ? 0 : IFF_UP)];
    if (change.name !== undefined) parts.push(rtattr(IFLA_IFNAME, cString(change.name)));
    if (change.netnsFd !== undefined) parts.push(rtattr(IFLA_NET_NS_FD, u32(change.netnsFd)));
    this.exchange(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, Buffer.concat(parts), context, 'ack');
  }

  /** RTM_NEWADDR of `address` on link `index` (its label left to the kernel: the link's name). */
  addAddress(index: number, address: Address, context: string): void {
    const header = Buffer.alloc(IFADDRMSG_LEN);
    header.writeUInt8(address.family, 0);
    header.writeUInt8(address.prefixLength, 1);
    header.writeUInt8(address.flags & IFA_SETTABLE_FLAGS & 0xff, 2);
    header.writeUInt8(address.scope, 3);
    header.writeUInt32LE(index, 4);
    const parts: Buffer[] = [header];
    for (const [type, value] of address.attributes) parts.push(rtattr(type, value));
    parts.push(rtattr(IFA_FLAGS, u32(address.flags & IFA_SETTABLE_FLAGS)));
    this.exchange(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, Buffer.concat(parts), context, 'ack');
  }

  /** Sends one request and reads its answer: its ack (or error), its one reply, or a whole dump. */
  private exchange(type: number, flags: number, body: Buffer, context: string, answer: Answer): Message[] {
    for (let attempt = 1; ; attempt++) {
      const seq = ++this.seq;
      const header = Buffer.alloc(NLMSG_HDRLEN);
      header.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
      header.writeUInt16LE(type, 4);
      header.writeUInt16LE(flags, 6);
      header.writeUInt32LE(seq, 8);
      sendDatagram(this.fd, Buffer.concat([header, body]), context);
      const { messages, interrupted } = this.receive(seq, type, context, answer);
      if (!interrupted || attempt >= DUMP_ATTEMPTS) return messages;
    }
  }

  /** Reads the answer to request `seq`, to its end; an error ends it as a SyscallError. */
  private receive(seq: number, requestType: number, context: string, answer: Answer): { messages: Message[]; interrupted: boolean } {
    const messages: Message[] = [];
    let interrupted = false;
    for (;;) {
      const length = recvDatagram(this.fd, this.buffer, context);
      for (let offset = 0; offset + NLMSG_HDRLEN <= length;) {
        const size = this.buffer.readUInt32LE(offset);
        if (size < NLMSG_HDRLEN || offset + size > length) break;
        const type = this.buffer.readUInt16LE(offset + 4);
        const flags = this.buffer.readUInt16LE(offset + 6);
        const ofThisRequest = this.buffer.readUInt32LE(offset + 8) === seq;
        const body = Buffer.from(this.buffer.subarray(offset + NLMSG_HDRLEN, offset + size));
        offset += align4(size);
        if (!ofThisRequest) continue; // what is left of an earlier request's answer
        if (flags & NLM_F_DUMP_INTR) interrupted = true;
        if (type === NLMSG_DONE) return { messages, interrupted };
        if (type === NLMSG_ERROR) {
          const errno = -body.readInt32LE(0);
          if (errno === 0) return { messages, interrupted };
          throw new SyscallError(`netlink ${requestName(requestType)}`, errno, errnoName(errno), withKernelReason(context, body, flags));
        }
        messages.push({ type, flags, body });
        if (answer === 'reply') return { messages, interrupted };
      }
    }
  }
}

/** How an answer ends: with the ack, after the one reply, or at NLMSG_DONE. */
type Answer = 'ack' | 'reply' | 'dump';

function requestName(type: number): string {
  return { [RTM_NEWLINK]: 'RTM_NEWLINK', [RTM_GETLINK]: 'RTM_GETLINK', [RTM_NEWADDR]: 'RTM_NEWADDR', [RTM_GETADDR]: 'RTM_GETADDR' }[type] ?? `type ${type}`;
}

/** The kernel's own words from an extended ack (NLMSGERR_ATTR_MSG), added to the context. */
function withKernelReason(context: string, body: Buffer, flags: number): string {
  if (!(flags & NLM_F_ACK_TLVS) || body.length < 4 + NLMSG_HDRLEN) return context;
  // struct nlmsgerr: the error, then the request's header, then (unless capped) its payload.
  const echoed = flags & NLM_F_CAPPED ? NLMSG_HDRLEN : body.readUInt32LE(4);
  const message = parseAttributes(body, 4 + align4(echoed)).get(NLMSGERR_ATTR_MSG);
  if (!message) return context;
  const end = message.indexOf(0);
  return `${context} (the kernel says: ${message.subarray(0, end < 0 ? message.length : end).toString()})`;
}

/** An fd of the network namespace tsrunc's main thread is in now, close-on-exec. */
export function openOwnNetns(): number {
  return open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC, 0, "opening tsrunc's own network namespace");
}
