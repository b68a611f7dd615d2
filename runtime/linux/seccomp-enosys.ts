/**
 * The -ENOSYS stub runc puts in front of libseccomp's program (runc
 * libcontainer/seccomp/patchbpf): on each architecture the profile lists, a syscall number above
 * the largest one its rules name there fails with ENOSYS instead of taking the default action.
 * A syscall newer than the profile (clone3, faccessat2, ...) then looks "not implemented" and
 * glibc falls back to the older one, where EPERM would be taken for a real refusal.
 *
 * What runc (1.1.5) does, and so this module:
 * - Only under a default action that refuses: none for ALLOW, LOG or TRACE (a tracer handles
 *   new syscalls itself). runc means to skip ERRNO(ENOSYS) too; that changes nothing anybody
 *   can see (the stub and the default would answer alike), and skipping it is cheaper.
 * - Only the architectures config.json lists, not the native one libseccomp always adds: an
 *   empty list means no stub.
 * - The largest number is over the names of every rule, whatever its action (a rule that only
 *   repeats the default action counts too), resolved by libseccomp for that architecture; names
 *   it does not know there and pseudo-syscalls (negative numbers) do not count. An architecture
 *   where no name resolves gets no section.
 * - x86_64 and x32 share AUDIT_ARCH_X86_64: x32 numbers carry bit 30 (__X32_SYSCALL_BIT), so one
 *   section tests it and compares with each ABI's own largest number (x32's carry the bit too).
 * - On s390 and s390x, syscall 0 also gets ENOSYS: the kernel leaves an unknown number of the
 *   multiplexed "large" syscalls as 0, which no program makes itself any more.
 * The load flags (NEW_LISTENER, LOG, SPEC_ALLOW; TSYNC, which is not applied) are untouched: the
 * stub only answers syscalls past the profile, which no rule and so no NOTIFY rule names.
 *
 * Layout (classic BPF; a conditional jump reaches 255 instructions at most, so none goes far):
 *
 *     ld [4]                          seccomp_data.arch
 *     jeq ARCH_1, 0, len(section_1)   no: test the next architecture
 *     section_1: ld [0]; ...; ret ERRNO(ENOSYS) | ja <filter>
 *     jeq ARCH_2, ...
 *     <libseccomp's program>          reached by falling through or by a ja (32-bit offset)
 *
 * Sections never fall through, so A still holds the arch at every jeq. libseccomp's program
 * starts with its own `ld [4]`.
 */
import os from 'node:os';
import { TsruncError } from '../errors.js';

/** struct sock_filter: u16 code, u8 jt, u8 jf, u32 k. */
export const SOCK_FILTER_SIZE = 8;
export const BPF_MAXINSNS = 4096;

// linux/bpf_common.h opcodes: class | size | mode, or class | op | source.
export const BPF_LD_W_ABS = 0x20;
export const BPF_JMP_JA = 0x05;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGT_K = 0x25;
export const BPF_JMP_JGE_K = 0x35;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;

/** struct seccomp_data offsets. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;

const ENOSYS = 38;
export const SECCOMP_RET_ERRNO_ENOSYS = (0x00050000 | ENOSYS) >>> 0;
export const X32_SYSCALL_BIT = 0x40000000;

// SCMP_ACT_* bases that let a syscall through: no stub under them.
const ACTION_MASK = 0xffff0000;
const PERMISSIVE = new Set([0x7fff0000 /* ALLOW */, 0x7ffc0000 /* LOG */, 0x7ff00000 /* TRACE */]);

/** AUDIT_ARCH_X86_64, which x32 shares. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** libseccomp's SCMP_ARCH_X32: a token of its own, not what the kernel reports. */
const SCMP_ARCH_X32 = 0x4000003e;

/** One architecture's entry in the stub. */
export interface EnosysArch {
  /** AUDIT_ARCH_* as the kernel puts it in seccomp_data.arch. */
  auditArch: number;
  /**
   * The largest syscall number per ABI. On AUDIT_ARCH_X86_64, `x86_64` and `x32` (numbers with
   * bit 30) are told apart by that bit, either or both present; elsewhere only `native`.
   */
  max: { native?: number; x86_64?: number; x32?: number };
  /** s390/s390x: syscall 0 gets ENOSYS too. */
  s390: boolean;
}

/** Whether runc's stub applies under this default action (an SCMP_ACT_* value, errno included). */
export function enosysStubApplies(defaultAction: number): boolean {
  if (PERMISSIVE.has((defaultAction & ACTION_MASK) >>> 0)) return false;
  return (defaultAction >>> 0) !== SECCOMP_RET_ERRNO_ENOSYS;
}

/** One profile architecture: libseccomp's name ("x32") and token (seccomp_arch_resolve_name). */
export interface ProfileArch {
  name: string;
  token: number;
}

/**
 * The stub's entries: for each listed architecture, the largest number `resolve` (libseccomp's
 * seccomp_syscall_resolve_name_arch) gives the rule names. Listed order, one entry per AUDIT_ARCH.
 */
export function enosysArches(arches: readonly ProfileArch[], names: readonly string[], resolve: (token: number, name: string) => number): EnosysArch[] {
  const unique = [...new Set(names)];
  const entries = new Map<number, EnosysArch>();
  for (const arch of arches) {
    let max = 0;
    for (const name of unique) max = Math.max(max, resolve(arch.token, name));
    if (max <= 0) continue; // runc: no syscall known there, no section
    // Every libseccomp token is the AUDIT_ARCH value but x32's.
    const isX32 = arch.token >>> 0 === SCMP_ARCH_X32;
    const auditArch = isX32 ? AUDIT_ARCH_X86_64 : arch.token >>> 0;
    const entry = entries.get(auditArch) ?? { auditArch, max: {}, s390: arch.name === 's390' || arch.name === 's390x' };
    if (auditArch === AUDIT_ARCH_X86_64) entry.max[isX32 ? 'x32' : 'x86_64'] = max;
    else entry.max.native = max;
    entries.set(auditArch, entry);
  }
  return [...entries.values()];
}

// ---------------------------------------------------------------------------------------------
// A tiny assembler: labels instead of offsets.

type Target = string | 'next';
type Insn =
  | { kind: 'ld'; offset: number }
  | { kind: 'jcond'; code: number; k: number; jt: Target; jf: Target }
  | { kind: 'ja'; to: string }
  | { kind: 'ret'; k: number }
  | { kind: 'label'; name: string };

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const FILTER = 'filter';

function section(entry: EnosysArch, n: number): Insn[] {
  const enosys = `enosys${n}`;
  const out = `out${n}`;
  const check = (max: number, label?: string): Insn[] => [
    ...(label ? [{ kind: 'label', name: label } as const] : []),
    { kind: 'jcond', code: BPF_JMP_JGT_K, k: max >>> 0, jt: enosys, jf: out },
  ];
  const body: Insn[] = [{ kind: 'ld', offset: SECCOMP_DATA_NR }];
  if (entry.s390) body.push({ kind: 'jcond', code: BPF_JMP_JEQ_K, k: 0, jt: enosys, jf: 'next' });
  const { native, x86_64: x64, x32 } = entry.max;
  if (entry.auditArch === AUDIT_ARCH_X86_64 && (x64 !== undefined || x32 !== undefined)) {
    const x64Label = x64 !== undefined ? `x64_${n}` : out;
    const x32Label = x32 !== undefined ? `x32_${n}` : out;
    body.push({ kind: 'jcond', code: BPF_JMP_JSET_K, k: X32_SYSCALL_BIT, jt: x32Label, jf: x64Label });
    if (x64 !== undefined) body.push(...check(x64, x64Label));
    if (x32 !== undefined) body.push(...check(x32, x32Label));
  } else if (native !== undefined) {
    body.push(...check(native));
  } else {
    return [];
  }
  body.push({ kind: 'label', name: enosys }, { kind: 'ret', k: SECCOMP_RET_ERRNO_ENOSYS });
  body.push({ kind: 'label', name: out }, { kind: 'ja', to: FILTER });
  return body;
}

/** Resolves labels; a conditional jump past 255 instructions is a bug in this module, not the profile. */
function assemble(insns: readonly Insn[]): BpfInsn[] {
  const labels = new Map<string, number>();
  let pc = 0;
  for (const insn of insns) {
    if (insn.kind === 'label') labels.set(insn.name, pc);
    else pc++;
  }
  const encoded: BpfInsn[] = [];
  const offset = (from: number, target: Target): number => {
    if (target === 'next') return 0;
    const at = labels.get(target);
    if (at === undefined || at <= from) throw new TsruncError(`seccomp -ENOSYS stub: bad jump target ${target} at ${from}`);
    return at - from - 1;
  };
  for (const insn of insns) {
    const at = encoded.length;
    switch (insn.kind) {
      case 'label':
        continue;
      case 'ld':
        encoded.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: insn.offset });
        break;
      case 'ret':
        encoded.push({ code: BPF_RET_K, jt: 0, jf: 0, k: insn.k });
        break;
      case 'ja':
        encoded.push({ code: BPF_JMP_JA, jt: 0, jf: 0, k: offset(at, insn.to) });
        break;
      case 'jcond': {
        const jt = offset(at, insn.jt);
        const jf = offset(at, insn.jf);
        if (jt > 255 || jf > 255) throw new TsruncError(`seccomp -ENOSYS stub: conditional jump of ${Math.max(jt, jf)} at ${at}`);
        encoded.push({ code: insn.code, jt, jf, k: insn.k });
        break;
      }
    }
  }
  return encoded;
}

/** The stub alone, as instructions; its jumps to the filter land right after its last one. */
export function enosysStub(entries: readonly EnosysArch[]): BpfInsn[] {
  const insns: Insn[] = [{ kind: 'ld', offset: SECCOMP_DATA_ARCH }];
  entries.forEach((entry, n) => {
    const body = section(entry, n);
    if (body.length === 0) return;
    const skip = `arch${n}_no`;
    insns.push({ kind: 'jcond', code: BPF_JMP_JEQ_K, k: entry.auditArch >>> 0, jt: 'next', jf: skip }, ...body, { kind: 'label', name: skip });
  });
  if (insns.length === 1) return [];
  insns.push({ kind: 'label', name: FILTER });
  return assemble(insns);
}

/**
 * libseccomp's exported program with the stub in front, or the program itself when the stub
 * does not apply (see the file comment). struct sock_filter is in host byte order.
 */
export function patchEnosys(program: Buffer, entries: readonly EnosysArch[], defaultAction: number): Buffer {
  if (program.length % SOCK_FILTER_SIZE !== 0) {
    throw new TsruncError(`seccomp -ENOSYS stub: the exported program is ${program.length} bytes, not a whole number of ${SOCK_FILTER_SIZE}-byte instructions`);
  }
  if (!enosysStubApplies(defaultAction)) return program;
  const stub = enosysStub(entries);
  if (stub.length === 0) return program;
  const little = os.endianness() === 'LE';
  // Buffer.alloc, not a pooled Buffer: its address goes to the kernel as the program.
  const patched = Buffer.alloc(stub.length * SOCK_FILTER_SIZE + program.length);
  stub.forEach((insn, i) => {
    const at = i * SOCK_FILTER_SIZE;
    if (little) {
      patched.writeUInt16LE(insn.code, at);
      patched.writeUInt32LE(insn.k >>> 0, at + 4);
    } else {
      patched.writeUInt16BE(insn.code, at);
      patched.writeUInt32BE(insn.k >>> 0, at + 4);
    }
    patched.writeUInt8(insn.jt, at + 2);
    patched.writeUInt8(insn.jf, at + 3);
  });
  program.copy(patched, stub.length * SOCK_FILTER_SIZE);
  return patched;
}
