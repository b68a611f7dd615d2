/**
 * cgroup v2 device rules: v2 has no devices.allow/deny files; the kernel asks an eBPF program
 * of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup instead (what runc and crun do).
 *
 * The rules are first replayed on a model of the v1 device controller (emulateDeviceRules:
 * a default, allow or deny, plus exceptions with merged access bits), so v2 gives exactly the
 * v1 meaning, then that final state is compiled to eBPF (compileDeviceFilter, pure), loaded
 * with BPF_PROG_LOAD and attached with BPF_PROG_ATTACH (BPF_F_ALLOW_MULTI); programs that were
 * attached before are detached afterwards, so the cgroup never goes unfiltered.
 */
import fs from 'node:fs';
import * as libc from '../libc.js';
import { SyscallError, TsruncError } from '../../errors.js';
import { ruleLine, type DeviceRule } from './devices-v1.js';

// <linux/bpf.h>
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const BPF_DEVCG_ACC_MKNOD = 1;
const BPF_DEVCG_ACC_READ = 2;
const BPF_DEVCG_ACC_WRITE = 4;
const BPF_DEVCG_DEV_BLOCK = 1;
const BPF_DEVCG_DEV_CHAR = 2;
const ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

/** One exception of the v1 model: -1 is the wildcard. */
export interface DeviceException {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** BPF_DEVCG_ACC_* bits. */
  access: number;
}

export interface DeviceState {
  /** true: everything but the exceptions is allowed; false: only the exceptions are. */
  defaultAllow: boolean;
  exceptions: DeviceException[];
}

function accessBits(access: string): number {
  let bits = 0;
  for (const c of access) bits |= c === 'r' ? BPF_DEVCG_ACC_READ : c === 'w' ? BPF_DEVCG_ACC_WRITE : c === 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
  return bits;
}

/**
 * Pure: the v1 device controller's state after the rules, written in order to a new cgroup
 * (which starts as "deny all"). As the kernel does: type "a" resets the default and drops
 * every exception; a rule that goes against the default adds an exception (access merged into
 * an identical one); a rule that agrees with it removes those access bits from the identical
 * exception.
 */
export function emulateDeviceRules(rules: readonly DeviceRule[]): DeviceState {
  const state: DeviceState = { defaultAllow: false, exceptions: [] };
  for (const rule of rules) {
    if (rule.type === 'a') {
      state.defaultAllow = rule.allow;
      state.exceptions = [];
      continue;
    }
    const bits = accessBits(rule.access);
    const same = (e: DeviceException) => e.type === rule.type && e.major === rule.major && e.minor === rule.minor;
    if (rule.allow !== state.defaultAllow) {
      const existing = state.exceptions.find(same);
      if (existing) existing.access |= bits;
      else state.exceptions.push({ type: rule.type, major: rule.major, minor: rule.minor, access: bits });
    } else {
      for (const exception of state.exceptions) if (same(exception)) exception.access &= ~bits;
      state.exceptions = state.exceptions.filter((e) => e.access !== 0);
    }
  }
  return state;
}

// --- a tiny eBPF assembler -------------------------------------------------------------------

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** A jump to the end of the current block (patched once the block's length is known). */
  toNext?: boolean;
}

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;
const LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K = 0x54;
const ALU32_RSH_K = 0x74;
const ALU32_MOV_K = 0xb4;
const ALU32_MOV_X = 0xbc;
const JMP_JNE_K = 0x55;
const JMP_JEQ_K = 0x15;
const EXIT = 0x95;

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const jumpToNext = (code: number, dst: number, imm: number): Insn => ({ code, dst, src: 0, off: 0, imm, toNext: true });

/**
 * Pure: the program for a device state, as bpf_insn bytes. The context is struct
 * bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }.
 * Each exception is a block that returns the exception's verdict when it matches, else falls
 * through to the next; the last block returns the default. Matching follows the v1 kernel:
 * a whitelist exception must grant every requested access bit, a blacklist exception denies
 * when it covers any of them.
 */
export function compileDeviceFilter(state: DeviceState): Buffer {
  const program: Insn[] = [
    insn(LDX_MEM_W, R2, R1, 0, 0),
    insn(ALU32_AND_K, R2, 0, 0, 0xffff), // r2 = device type
    insn(LDX_MEM_W, R3, R1, 0, 0),
    insn(ALU32_RSH_K, R3, 0, 0, 16), // r3 = requested access
    insn(LDX_MEM_W, R4, R1, 4, 0), // r4 = major
    insn(LDX_MEM_W, R5, R1, 8, 0), // r5 = minor
  ];
  const verdict = state.defaultAllow ? 0 : 1; // an exception says the opposite of the default
  for (const exception of state.exceptions) {
    const block: Insn[] = [jumpToNext(JMP_JNE_K, R2, exception.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK)];
    if (state.defaultAllow) {
      // Denied when the exception covers any requested bit.
      block.push(insn(ALU32_MOV_X, R1, R3, 0, 0), insn(ALU32_AND_K, R1, 0, 0, exception.access), jumpToNext(JMP_JEQ_K, R1, 0));
    } else if (exception.access !== ALL_ACCESS) {
      // Allowed only when every requested bit is granted.
      block.push(insn(ALU32_MOV_X, R1, R3, 0, 0), insn(ALU32_AND_K, R1, 0, 0, ~exception.access & ALL_ACCESS), jumpToNext(JMP_JNE_K, R1, 0));
    }
    if (exception.major >= 0) block.push(jumpToNext(JMP_JNE_K, R4, exception.major));
    if (exception.minor >= 0) block.push(jumpToNext(JMP_JNE_K, R5, exception.minor));
    block.push(insn(ALU32_MOV_K, R0, 0, 0, verdict), insn(EXIT, 0, 0, 0, 0));
    block.forEach((item, index) => {
      if (item.toNext) item.off = block.length - index - 1;
    });
    program.push(...block);
  }
  program.push(insn(ALU32_MOV_K, R0, 0, 0, state.defaultAllow ? 1 : 0), insn(EXIT, 0, 0, 0, 0));
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((item, index) => {
    bytes.writeUInt8(item.code, index * 8);
    bytes.writeUInt8((item.src << 4) | item.dst, index * 8 + 1);
    bytes.writeInt16LE(item.off, index * 8 + 2);
    bytes.writeInt32LE(item.imm | 0, index * 8 + 4);
  });
  return bytes;
}

// --- loading and attaching ------------------------------------------------------------------

const LICENSE = Buffer.from('Apache\0');

function loadProgram(instructions: Buffer, dir: string): number {
  const log = Buffer.alloc(64 * 1024);
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  attr.writeUInt32LE(instructions.length / 8, 4);
  attr.writeBigUInt64LE(libc.addressOf(instructions), 8);
  attr.writeBigUInt64LE(libc.addressOf(LICENSE), 16);
  attr.writeUInt32LE(1, 24); // log_level: the verifier explains a refusal
  attr.writeUInt32LE(log.length, 28);
  attr.writeBigUInt64LE(libc.addressOf(log), 32);
  try {
    return libc.bpf(BPF_PROG_LOAD, attr, `cgroup: loading the device filter for ${dir}`);
  } catch (error) {
    const verifier = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim().split('\n').slice(-3).join(' | ');
    if (error instanceof SyscallError && verifier !== '') throw new TsruncError(`${error.message}: ${verifier}`);
    throw error;
  }
}

function attachedProgramIds(dirFd: number, dir: string): number[] {
  for (let capacity = 64; ; capacity *= 2) {
    const ids = Buffer.alloc(capacity * 4);
    const attr = Buffer.alloc(40);
    attr.writeUInt32LE(dirFd, 0); // target_fd
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4); // attach_type
    attr.writeBigUInt64LE(libc.addressOf(ids), 16); // prog_ids
    attr.writeUInt32LE(capacity, 24); // prog_cnt
    try {
      libc.bpf(BPF_PROG_QUERY, attr, `cgroup: listing the device filters of ${dir}`);
    } catch (error) {
      if (error instanceof SyscallError && error.errnoName === 'ENOSPC' && capacity < 4096) continue;
      throw error;
    }
    const count = attr.readUInt32LE(24);
    return Array.from({ length: count }, (_, i) => ids.readUInt32LE(i * 4));
  }
}

function programFdById(id: number, dir: string): number {
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(id, 0);
  return libc.bpf(BPF_PROG_GET_FD_BY_ID, attr, `cgroup: opening device filter ${id} of ${dir}`);
}

function attachOrDetach(command: number, dirFd: number, programFd: number, context: string): void {
  const attr = Buffer.alloc(24);
  attr.writeUInt32LE(dirFd, 0); // target_fd
  attr.writeUInt32LE(programFd, 4); // attach_bpf_fd
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
  attr.writeUInt32LE(command === BPF_PROG_ATTACH ? BPF_F_ALLOW_MULTI : 0, 12); // attach_flags
  libc.bpf(command, attr, context);
}

/** Pure: the rules as the eBPF program that enforces them. */
export function deviceFilterFor(rules: readonly DeviceRule[]): Buffer {
  return compileDeviceFilter(emulateDeviceRules(rules));
}

/** Makes `rules` the device policy of the cgroup2 directory `dir`. */
export function setDeviceFilter(dir: string, rules: readonly DeviceRule[]): void {
  const instructions = deviceFilterFor(rules);
  const dirFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const before = attachedProgramIds(dirFd, dir);
    const programFd = loadProgram(instructions, dir);
    try {
      attachOrDetach(BPF_PROG_ATTACH, dirFd, programFd, `cgroup: attaching the device filter to ${dir}`);
    } finally {
      fs.closeSync(programFd); // the attachment keeps the program alive
    }
    for (const id of before) {
      const oldFd = programFdById(id, dir);
      try {
        attachOrDetach(BPF_PROG_DETACH, dirFd, oldFd, `cgroup: detaching the previous device filter ${id} of ${dir}`);
      } finally {
        fs.closeSync(oldFd);
      }
    }
  } finally {
    fs.closeSync(dirFd);
  }
}

/** For error messages and tests: the state as v1 would list it. */
export function describeDeviceState(state: DeviceState): string[] {
  const letters = (bits: number) => `${bits & BPF_DEVCG_ACC_READ ? 'r' : ''}${bits & BPF_DEVCG_ACC_WRITE ? 'w' : ''}${bits & BPF_DEVCG_ACC_MKNOD ? 'm' : ''}`;
  return [
    state.defaultAllow ? 'default allow' : 'default deny',
    ...state.exceptions.map((e) => ruleLine({ allow: !state.defaultAllow, type: e.type, major: e.major, minor: e.minor, access: letters(e.access) })),
  ];
}
