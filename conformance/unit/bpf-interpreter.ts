/**
 * A classic BPF interpreter for seccomp programs, for tests: what the kernel would return for
 * one syscall. Only the subset libseccomp and the -ENOSYS stub emit (LD W ABS, ALU AND K,
 * JA/JEQ/JGT/JGE/JSET K, RET K); anything else is an error, as is a jump out of the program,
 * which the kernel would have refused at load time (checkProgram).
 */
import os from 'node:os';

export interface SeccompData {
  nr: number;
  arch: number;
  /** Up to six uint64 arguments. */
  args?: bigint[];
}

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const little = os.endianness() === 'LE';

/** struct sock_filter[] (host byte order) → instructions. */
export function decode(program: Buffer): Insn[] {
  if (program.length % 8 !== 0) throw new Error(`a BPF program of ${program.length} bytes is not whole instructions`);
  const out: Insn[] = [];
  for (let at = 0; at < program.length; at += 8) {
    out.push({
      code: little ? program.readUInt16LE(at) : program.readUInt16BE(at),
      jt: program.readUInt8(at + 2),
      jf: program.readUInt8(at + 3),
      k: little ? program.readUInt32LE(at + 4) : program.readUInt32BE(at + 4),
    });
  }
  return out;
}

const isJump = (code: number) => (code & 0x07) === 0x05;
const isConditional = (code: number) => isJump(code) && code !== 0x05;

/** The kernel's static checks that matter here: every jump lands inside, the last instruction returns. */
export function checkProgram(insns: readonly Insn[]): void {
  if (insns.length === 0 || insns.length > 4096) throw new Error(`${insns.length} instructions`);
  insns.forEach((insn, pc) => {
    const targets = insn.code === 0x05 ? [insn.k] : isConditional(insn.code) ? [insn.jt, insn.jf] : [];
    for (const offset of targets) {
      if (pc + 1 + offset >= insns.length) throw new Error(`the jump at ${pc} (+${offset}) leaves the ${insns.length}-instruction program`);
    }
  });
  const last = insns[insns.length - 1]!;
  if ((last.code & 0x07) !== 0x06) throw new Error(`the program ends with opcode 0x${last.code.toString(16)}, not a return`);
}

/** struct seccomp_data: nr, arch, instruction_pointer, args[6]. */
function seccompData(data: SeccompData): Buffer {
  const buf = Buffer.alloc(64);
  const u32 = (value: number, at: number) => (little ? buf.writeUInt32LE(value >>> 0, at) : buf.writeUInt32BE(value >>> 0, at));
  u32(data.nr, 0);
  u32(data.arch, 4);
  (data.args ?? []).forEach((arg, i) => (little ? buf.writeBigUInt64LE(arg, 16 + 8 * i) : buf.writeBigUInt64BE(arg, 16 + 8 * i)));
  return buf;
}

/** The SECCOMP_RET_* value the program returns for `data`. */
export function run(insns: readonly Insn[], data: SeccompData): number {
  checkProgram(insns);
  const bytes = seccompData(data);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= insns.length; steps++) {
    const insn = insns[pc];
    if (!insn) throw new Error(`pc ${pc} is outside the program`);
    pc++;
    switch (insn.code) {
      case 0x20: // ld [k]
        if (insn.k + 4 > bytes.length || insn.k % 4 !== 0) throw new Error(`ld [${insn.k}] outside seccomp_data`);
        a = little ? bytes.readUInt32LE(insn.k) : bytes.readUInt32BE(insn.k);
        break;
      case 0x54: // and #k
        a = (a & insn.k) >>> 0;
        break;
      case 0x05: // ja
        pc += insn.k;
        break;
      case 0x15: // jeq #k
        pc += a === insn.k ? insn.jt : insn.jf;
        break;
      case 0x25: // jgt #k
        pc += a > insn.k ? insn.jt : insn.jf;
        break;
      case 0x35: // jge #k
        pc += a >= insn.k ? insn.jt : insn.jf;
        break;
      case 0x45: // jset #k
        pc += (a & insn.k) !== 0 ? insn.jt : insn.jf;
        break;
      case 0x06: // ret #k
        return insn.k >>> 0;
      default:
        throw new Error(`opcode 0x${insn.code.toString(16)} at ${pc - 1} is not in this interpreter's subset`);
    }
  }
  throw new Error('the program did not return (a backward jump?)');
}
