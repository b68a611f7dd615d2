/**
 * Writes a batch of stage operations in the binary form runtime/native/plan.c reads:
 *
 *   batch: u32 magic "TSB1", u32 body length, body
 *   body:  u32 op count, then per op: u32 code, u32 int count, u32 string count,
 *          int64 ints..., then per string: u32 length, bytes, one NUL
 *
 * Every op's first string is its label. The field order of each op below is the layout the C
 * side reads (the comment above each op_* function there says it too).
 */
import { OP_CODES, type StageOp } from './ops.js';

const MAGIC = 0x31425354; // "TSB1", little-endian

type IntField = number | bigint;
type StrField = string | Buffer;

function slotOrNone(slot: number | null): number {
  return slot ?? -1;
}

const CREATE_KINDS = { no: 0, directory: 1, file: 2, 'as-source': 3 } as const;

/** The ints and strings (after the label) of one op, in the C layout. */
function fields(op: StageOp): { ints: IntField[]; strs: StrField[] } {
  switch (op.op) {
    case 'close-from': return { ints: [op.first], strs: [] };
    case 'close': return { ints: [op.fd], strs: [] };
    case 'open': return { ints: [slotOrNone(op.dir), op.flags, op.mode, op.into], strs: [op.path] };
    case 'open-in-root':
      return { ints: [op.root, CREATE_KINDS[op.create], op.into, op.check ?? -1], strs: op.source === undefined ? [op.path] : [op.path, op.source] };
    case 'write-file': return { ints: [slotOrNone(op.dir), op.flags], strs: [op.path, op.data] };
    case 'chdir': return { ints: [], strs: [op.path] };
    case 'fchdir': return { ints: [op.fd], strs: [] };
    case 'chroot': return { ints: [], strs: [op.path] };
    case 'mount': {
      const present = (op.source !== null ? 1 : 0) | (op.fstype !== null ? 2 : 0) | (op.data !== null ? 4 : 0);
      return {
        ints: [op.flags, present, slotOrNone(op.sourceFd), slotOrNone(op.targetFd), op.ignoreErrno, op.onlyAfterIgnored ? 1 : 0, op.modeOfTarget ? 1 : 0],
        strs: [op.source ?? '', op.target, op.fstype ?? '', op.data ?? ''],
      };
    }
    case 'umount': return { ints: [op.flags, ...op.ignoreErrno], strs: [op.target] };
    case 'pivot-root': return { ints: [], strs: [op.newRoot, op.putOld] };
    case 'open-tree': return { ints: [slotOrNone(op.dir), op.flags, op.into], strs: [op.path] };
    case 'move-mount': return { ints: [op.from, op.to], strs: [] };
    case 'mount-setattr': return { ints: [op.target, op.set, op.clear], strs: [] };
    case 'copy-tree': return { ints: [op.from, op.to], strs: [] };
    case 'sched-setattr': return { ints: [op.policy, op.flags, op.nice, op.priority, op.runtime, op.deadline, op.period], strs: [] };
    case 'ioprio-set': return { ints: [op.value], strs: [] };
    case 'personality': return { ints: [op.persona], strs: [] };
    case 'sched-setaffinity': return { ints: [...op.cpus], strs: [] };
    case 'set-mempolicy': return { ints: [op.mode, ...op.nodes], strs: [] };
    case 'device':
      return { ints: [op.dir, op.type, op.permissions, op.dev, op.uid, op.gid], strs: [op.name, op.hostPath] };
    case 'unlink': return { ints: [op.dir, op.flags, op.ignoreMissing ? 1 : 0], strs: [op.name] };
    case 'symlink': return { ints: [op.dir], strs: [op.target, op.name] };
    case 'mask': return { ints: [], strs: [op.path] };
    case 'readonly': return { ints: [], strs: [op.path] };
    case 'setns': return { ints: [op.fd, op.nstype], strs: [] };
    case 'unshare': return { ints: [op.flags], strs: [] };
    case 'clone-init': return { ints: [], strs: [] };
    case 'setgroups': return { ints: [op.ignoreDenied ? 1 : 0, ...op.gids], strs: [] };
    case 'setresgid': return { ints: [op.gid], strs: [] };
    case 'setresuid': return { ints: [op.uid], strs: [] };
    case 'sethostname': return { ints: [], strs: [op.name] };
    case 'setdomainname': return { ints: [], strs: [op.name] };
    case 'prctl': {
      const args = [...op.args, 0, 0, 0, 0].slice(0, 4);
      return { ints: [op.option, ...args], strs: [] };
    }
    case 'capbset-drop': return { ints: op.capabilities, strs: [] };
    case 'capset':
      return { ints: [...op.effective, ...op.permitted, ...op.inheritable], strs: [] };
    case 'setrlimit': return { ints: [op.resource, BigInt(op.soft), BigInt(op.hard)], strs: [] };
    case 'umask': return { ints: [op.mask], strs: [] };
    case 'keyring': return { ints: [op.addPermissions, op.ignoreMissing ? 1 : 0], strs: [op.name] };
    case 'send': return { ints: [], strs: [JSON.stringify(op.message)] };
    case 'await': return { ints: [], strs: [] };
    case 'fail': return { ints: [], strs: [op.message] };
    case 'pty': return { ints: [op.socket, op.rows, op.cols, op.devConsole ? 1 : 0, op.into], strs: [] };
    case 'setsid': return { ints: [], strs: [] };
    case 'set-ctty': return { ints: [op.fd], strs: [] };
    case 'chown-stdio': return { ints: [op.uid, op.nullRdev], strs: [] };
    case 'hook': {
      const argv = op.args.length > 0 ? op.args : [op.path];
      return { ints: [op.timeoutSeconds, argv.length, op.addHome ? 1 : 0], strs: [op.path, op.stdin, ...argv, ...op.env] };
    }
    case 'find-executable': return { ints: [], strs: [op.notFound, ...op.candidates] };
    case 'home-from-passwd': return { ints: [op.uid], strs: [op.passwd] };
    case 'wait-start': return { ints: [op.fifo], strs: [] };
    case 'place-fds': return { ints: op.fds.map(slotOrNone), strs: [] };
    case 'reset-signals': return { ints: [], strs: [] };
    case 'seccomp': return { ints: [op.flags, slotOrNone(op.into)], strs: [op.program] };
    case 'send-fd': return { ints: [op.socket, op.fd, op.closeOnFailure ? 1 : 0], strs: [op.payload] };
    case 'exec':
      return { ints: [op.args.length, op.addHome ? 1 : 0, op.path === null ? 1 : 0], strs: [op.path ?? '', ...op.args, ...op.env] };
    case 'dup-onto': return { ints: [op.fd, op.target], strs: [] };
  }
}

/** The UTF-8 length of a string field (a blob's own length), refusing a NUL in a C string. */
function lengthOf(text: StrField, op: StageOp): number {
  if (typeof text !== 'string') return text.length;
  // Strings the kernel takes as C strings cannot hold a NUL; blobs (a BPF program) can.
  if (text.includes('\0')) throw new Error(`${op.label}: a string of the ${op.op} operation contains a NUL byte`);
  return Buffer.byteLength(text);
}

/** The bytes of one batch: sized first, then written into one buffer. */
export function encodeBatch(ops: readonly StageOp[]): Buffer {
  const encoded = ops.map((op) => {
    const { ints, strs } = fields(op);
    const strings = [op.label, ...strs];
    const lengths = strings.map((text) => lengthOf(text, op));
    return { code: OP_CODES[op.op], ints, strings, lengths, size: 12 + 8 * ints.length + lengths.reduce((n, length) => n + 5 + length, 0) };
  });
  const bodyLength = 4 + encoded.reduce((n, e) => n + e.size, 0);
  const out = Buffer.allocUnsafe(8 + bodyLength);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(bodyLength, 4);
  out.writeUInt32LE(ops.length, 8);
  let at = 12;
  for (const { code, ints, strings, lengths } of encoded) {
    out.writeUInt32LE(code, at);
    out.writeUInt32LE(ints.length, at + 4);
    out.writeUInt32LE(strings.length, at + 8);
    at += 12;
    for (const value of ints) {
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= -0x80000000 && value <= 0xffffffff) {
        // The common case without BigInt: low word, then the sign-extended high word.
        out.writeUInt32LE(value >>> 0, at);
        out.writeInt32LE(value < 0 ? -1 : 0, at + 4);
      } else {
        out.writeBigInt64LE(BigInt.asIntN(64, BigInt(value)), at);
      }
      at += 8;
    }
    strings.forEach((text, i) => {
      const length = lengths[i]!;
      out.writeUInt32LE(length, at);
      if (typeof text === 'string') out.write(text, at + 4, length, 'utf8');
      else text.copy(out, at + 4);
      out[at + 4 + length] = 0;
      at += 5 + length;
    });
  }
  return out;
}
