/**
 * The -ENOSYS stub (runtime/linux/seccomp-enosys.ts), run through a small BPF interpreter: on a
 * listed architecture a number above the profile's largest gets ERRNO(ENOSYS), everything else
 * gets what libseccomp's own program answers. First against hand-made inputs, then against
 * programs libseccomp really exports (no container is started).
 */
import t from 'tap';
import {
  AUDIT_ARCH_X86_64, SECCOMP_RET_ERRNO_ENOSYS, X32_SYSCALL_BIT, enosysArches, enosysStub, enosysStubApplies, patchEnosys,
  type EnosysArch,
} from '../../runtime/linux/seccomp-enosys.js';
import { buildSeccomp, planSeccomp } from '../../runtime/linux/seccomp.js';
import { loadLibseccomp } from '../../runtime/linux/libseccomp.js';
import type { OciSeccomp } from '../../runtime/spec/config.js';
import { checkProgram, decode, run, type Insn } from './bpf-interpreter.js';

const ACT = {
  KILL_THREAD: 0x00000000,
  KILL_PROCESS: 0x80000000,
  TRAP: 0x00030000,
  ERRNO: (n: number) => (0x00050000 + n) >>> 0,
  TRACE: (n: number) => (0x7ff00000 + n) >>> 0,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
};
const ENOSYS = ACT.ERRNO(38);
const EPERM = ACT.ERRNO(1);

const AUDIT = { X86_64: 0xc000003e, I386: 0x40000003, AARCH64: 0xc00000b7, ARM: 0x40000028, S390X: 0x80000016, PPC64LE: 0xc0000015 };

/** sock_filter[] of these instructions, host byte order (the interpreter decodes it back). */
function encode(insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return buf;
}

/** Stands in for libseccomp's program: x86_64 allows 0..9, denies the rest with `deny`; other arches get KILL. */
function fakeFilter(deny: number): Buffer {
  return encode([
    { code: 0x20, jt: 0, jf: 0, k: 4 },
    { code: 0x15, jt: 1, jf: 0, k: AUDIT.X86_64 },
    { code: 0x06, jt: 0, jf: 0, k: ACT.KILL_THREAD },
    { code: 0x20, jt: 0, jf: 0, k: 0 },
    { code: 0x35, jt: 1, jf: 0, k: 10 },
    { code: 0x06, jt: 0, jf: 0, k: ACT.ALLOW },
    { code: 0x06, jt: 0, jf: 0, k: deny },
  ]);
}

const answer = (program: Buffer, arch: number, nr: number) => run(decode(program), { nr, arch });

t.test('when the stub applies: not under ALLOW, LOG, TRACE or ERRNO(ENOSYS), as runc', async (t) => {
  for (const action of [ACT.ALLOW, ACT.LOG, ACT.TRACE(0), ACT.TRACE(7), ENOSYS]) t.notOk(enosysStubApplies(action), `0x${action.toString(16)}`);
  for (const action of [EPERM, ACT.ERRNO(6), ACT.KILL_THREAD, ACT.KILL_PROCESS, ACT.TRAP]) t.ok(enosysStubApplies(action), `0x${action.toString(16)}`);
  const entries: EnosysArch[] = [{ auditArch: AUDIT.X86_64, max: { x86_64: 9 }, s390: false }];
  const program = fakeFilter(EPERM);
  t.equal(patchEnosys(program, entries, ACT.ALLOW), program, 'ALLOW: the program as libseccomp made it');
  t.equal(patchEnosys(program, [], EPERM), program, 'no architecture: nothing to add');
  t.throws(() => patchEnosys(program.subarray(0, 12), entries, EPERM), { message: /12 bytes, not a whole number of 8-byte instructions/ });
});

t.test('one architecture: above the largest number ENOSYS, the rest what the filter says', async (t) => {
  const program = fakeFilter(EPERM);
  const patched = patchEnosys(program, [{ auditArch: AUDIT.X86_64, max: { x86_64: 20 }, s390: false }], EPERM);
  t.same(patched.subarray(patched.length - program.length), program, 'libseccomp\'s program follows, unchanged');
  t.equal(answer(patched, AUDIT.X86_64, 3), ACT.ALLOW, 'allowed');
  t.equal(answer(patched, AUDIT.X86_64, 15), EPERM, 'known, denied: the default action');
  t.equal(answer(patched, AUDIT.X86_64, 20), EPERM, 'the largest itself is known');
  t.equal(answer(patched, AUDIT.X86_64, 21), ENOSYS, 'one above: ENOSYS');
  t.equal(answer(patched, AUDIT.X86_64, 1000), ENOSYS);
  t.equal(answer(patched, AUDIT.X86_64, X32_SYSCALL_BIT | 1), answer(program, AUDIT.X86_64, X32_SYSCALL_BIT | 1), 'x32 not listed: the filter decides');
  t.equal(answer(patched, AUDIT.AARCH64, 1000), ACT.KILL_THREAD, 'a foreign architecture: the filter decides');
  t.equal(answer(patched, AUDIT.AARCH64, 1000), answer(program, AUDIT.AARCH64, 1000));
});

t.test('x86_64 and x32 share an AUDIT_ARCH: bit 30 picks the largest number', async (t) => {
  const program = fakeFilter(EPERM);
  const both = patchEnosys(program, [{ auditArch: AUDIT.X86_64, max: { x86_64: 20, x32: X32_SYSCALL_BIT | 30 }, s390: false }], EPERM);
  t.equal(answer(both, AUDIT.X86_64, 25), ENOSYS, 'x86_64 25 > 20');
  t.equal(answer(both, AUDIT.X86_64, X32_SYSCALL_BIT | 25), answer(program, AUDIT.X86_64, X32_SYSCALL_BIT | 25), 'x32 25 <= 30: the filter');
  t.equal(answer(both, AUDIT.X86_64, X32_SYSCALL_BIT | 31), ENOSYS, 'x32 31 > 30');
  const x32Only = patchEnosys(program, [{ auditArch: AUDIT.X86_64, max: { x32: X32_SYSCALL_BIT | 30 }, s390: false }], EPERM);
  t.equal(answer(x32Only, AUDIT.X86_64, 1000), EPERM, 'only x32 listed: x86_64 numbers go to the filter');
  t.equal(answer(x32Only, AUDIT.X86_64, X32_SYSCALL_BIT | 1000), ENOSYS);
  const x64Only = patchEnosys(program, [{ auditArch: AUDIT.X86_64, max: { x86_64: 20 }, s390: false }], EPERM);
  t.equal(answer(x64Only, AUDIT.X86_64, X32_SYSCALL_BIT | 1000), EPERM, 'only x86_64 listed: x32 numbers go to the filter');
});

t.test('s390x: syscall 0 is ENOSYS too', async (t) => {
  const program = fakeFilter(EPERM);
  const patched = patchEnosys(program, [{ auditArch: AUDIT.S390X, max: { native: 100 }, s390: true }], EPERM);
  t.equal(answer(patched, AUDIT.S390X, 0), ENOSYS);
  t.equal(answer(patched, AUDIT.S390X, 101), ENOSYS);
  t.equal(answer(patched, AUDIT.S390X, 50), ACT.KILL_THREAD, 'the filter (which here knows no s390x)');
});

t.test('many architectures: every jump stays in range, every section is reached', async (t) => {
  const program = fakeFilter(EPERM);
  // More sections than an 8-bit jump spans: the dispatch must not need one.
  const entries: EnosysArch[] = Array.from({ length: 60 }, (_, i) => ({ auditArch: 0x1000 + i, max: { native: 100 + i }, s390: i % 2 === 0 }));
  entries.push({ auditArch: AUDIT.X86_64, max: { x86_64: 20, x32: X32_SYSCALL_BIT | 30 }, s390: false });
  const stub = enosysStub(entries);
  t.ok(stub.length > 255, `${stub.length} instructions`);
  const patched = patchEnosys(program, entries, EPERM);
  t.doesNotThrow(() => checkProgram(decode(patched)));
  for (const [i, entry] of entries.slice(0, 60).entries()) {
    if (answer(patched, entry.auditArch, 101 + i) !== ENOSYS || answer(patched, entry.auditArch, 100 + i) !== ACT.KILL_THREAD) {
      t.fail(`section ${i}`);
    }
  }
  t.equal(answer(patched, AUDIT.X86_64, 21), ENOSYS, 'the last section, past them all');
  t.equal(answer(patched, AUDIT.X86_64, 5), ACT.ALLOW);
  t.equal(answer(patched, AUDIT.X86_64, X32_SYSCALL_BIT | 31), ENOSYS);
});

t.test('enosysArches: the largest resolvable number per architecture', async (t) => {
  const numbers: Record<string, Record<string, number>> = {
    x86_64: { read: 0, clone3: 435, socket: 41 },
    x32: { read: X32_SYSCALL_BIT, clone3: X32_SYSCALL_BIT | 435 },
    x86: { read: 3, socket: -101 },
    s390x: { read: 3 },
    ppc64le: {},
  };
  const tokens: Record<string, number> = { x86_64: AUDIT.X86_64, x32: 0x4000003e, x86: AUDIT.I386, s390x: AUDIT.S390X, ppc64le: AUDIT.PPC64LE };
  const byToken = new Map(Object.entries(tokens).map(([name, token]) => [token, name]));
  const resolve = (token: number, name: string) => numbers[byToken.get(token)!]![name] ?? -1;
  const arches = Object.entries(tokens).map(([name, token]) => ({ name, token }));
  t.same(enosysArches(arches, ['read', 'socket', 'clone3', 'read', 'nosuch'], resolve), [
    { auditArch: AUDIT.X86_64, max: { x86_64: 435, x32: X32_SYSCALL_BIT | 435 }, s390: false },
    { auditArch: AUDIT.I386, max: { native: 3 }, s390: false },
    { auditArch: AUDIT.S390X, max: { native: 3 }, s390: true },
  ], 'x32 joins x86_64; pseudo-syscalls (negative) and unknown names do not count; none known: no entry');
  t.same(enosysArches([{ name: 'x86_64', token: AUDIT.X86_64 }], ['read'], resolve), [], 'only syscall 0: no entry, as runc (its largest starts at 0)');
});

// ---------------------------------------------------------------------------------------------
// Against libseccomp's real programs

const seccomp = (value: Record<string, unknown>) => value as unknown as OciSeccomp;
const build = (value: Record<string, unknown>) => buildSeccomp(planSeccomp(seccomp(value))!, { noNewPrivileges: true, capabilities: undefined, uid: 0 }, 40).program;

/** libseccomp's own program for these rules, without tsrunc (nor its stub). */
function exported(defaultAction: number, arches: string[], rules: [number, string[]][]): Buffer {
  const { lib } = loadLibseccomp();
  const ctx = lib.init(defaultAction);
  try {
    for (const arch of arches) lib.archAdd(ctx, lib.archResolve(arch));
    for (const [action, names] of rules) for (const name of names) lib.ruleAdd(ctx, action, lib.resolveSyscall(name), []);
    return lib.exportBpf(ctx);
  } finally {
    lib.release(ctx);
  }
}

const ALLOWED = ['read', 'write', 'close', 'exit_group', 'openat', 'execve', 'faccessat2'];
const ARCHES = { SCMP_ARCH_X86: 'x86', SCMP_ARCH_X32: 'x32', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_AARCH64: 'aarch64', SCMP_ARCH_ARM: 'arm' };

t.test('libseccomp\'s program for runc\'s seccomp_syscall_test1 shape', async (t) => {
  const profile = { defaultAction: 'SCMP_ACT_ERRNO', architectures: Object.keys(ARCHES), syscalls: [{ names: ALLOWED, action: 'SCMP_ACT_ALLOW' }] };
  const patched = build(profile);
  const original = exported(EPERM, Object.values(ARCHES), [[ACT.ALLOW, ALLOWED]]);
  t.same(patched.subarray(patched.length - original.length), original, 'buildSeccomp: the stub, then libseccomp\'s program unchanged');
  t.ok(patched.length > original.length, `${(patched.length - original.length) / 8} instructions in front`);
  const x86_64 = { read: 0, unshare: 272, faccessat2: 439 };
  t.equal(answer(patched, AUDIT.X86_64, 1000), ENOSYS, 'x86_64 syscall(1000): ENOSYS');
  t.equal(answer(patched, AUDIT.X86_64, x86_64.faccessat2 + 1), ENOSYS, 'x86_64: one above the largest named (faccessat2)');
  t.equal(answer(patched, AUDIT.X86_64, x86_64.faccessat2), ACT.ALLOW, 'the largest itself: allowed');
  t.equal(answer(patched, AUDIT.X86_64, x86_64.read), ACT.ALLOW);
  t.equal(answer(patched, AUDIT.X86_64, x86_64.unshare), EPERM, 'known and not allowed: the default action');
  t.equal(answer(patched, AUDIT.X86_64, X32_SYSCALL_BIT | 1000), ENOSYS, 'x32 syscall(1000)');
  t.equal(answer(patched, AUDIT.X86_64, X32_SYSCALL_BIT | 0), ACT.ALLOW, 'x32 read');
  t.equal(answer(patched, AUDIT.X86_64, X32_SYSCALL_BIT | 272), EPERM, 'x32 unshare');
  t.equal(answer(patched, AUDIT.I386, 1000), ENOSYS, 'i386');
  t.equal(answer(patched, AUDIT.I386, 3), ACT.ALLOW, 'i386 read');
  t.equal(answer(patched, AUDIT.I386, 310), EPERM, 'i386 unshare');
  t.equal(answer(patched, AUDIT.AARCH64, 1000), ENOSYS, 'aarch64');
  t.equal(answer(patched, AUDIT.AARCH64, 97), EPERM, 'aarch64 unshare');
  t.equal(answer(patched, AUDIT.ARM, 1000), ENOSYS, 'arm');
  for (const nr of [0, 272, 1000]) {
    t.equal(answer(patched, AUDIT.S390X, nr), answer(original, AUDIT.S390X, nr), `s390x (not listed) ${nr}: libseccomp's answer`);
  }
});

t.test('libseccomp: the largest number counts every rule, and only listed architectures', async (t) => {
  const allowOnly = { names: ALLOWED, action: 'SCMP_ACT_ALLOW' };
  // epoll_pwait2 (441) is named only by a rule that repeats the default action, which libseccomp never sees.
  const repeated = build({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [allowOnly, { names: ['epoll_pwait2'], action: 'SCMP_ACT_ERRNO' }] });
  t.equal(answer(repeated, AUDIT.X86_64, 441), EPERM, 'a rule that repeats the default still counts (runc)');
  t.equal(answer(repeated, AUDIT.X86_64, 442), ENOSYS);
  const denied = build({ defaultAction: 'SCMP_ACT_KILL_PROCESS', architectures: ['SCMP_ARCH_X86_64'], syscalls: [allowOnly, { names: ['epoll_pwait2'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] });
  t.equal(answer(denied, AUDIT.X86_64, 441), ACT.ERRNO(13));
  t.equal(answer(denied, AUDIT.X86_64, 440), ACT.KILL_PROCESS, 'KILL_PROCESS default: known syscalls still die');
  t.equal(answer(denied, AUDIT.X86_64, 1000), ENOSYS, 'a newer one does not');
  const unlisted = build({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allowOnly] });
  t.same(unlisted, exported(EPERM, [], [[ACT.ALLOW, ALLOWED]]), 'no architectures listed: no stub, as runc');
  t.equal(answer(unlisted, AUDIT.X86_64, 1000), EPERM);
  const permissive = build({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  t.same(permissive, exported(ACT.ALLOW, ['x86_64'], [[EPERM, ['mkdir']]]), 'ALLOW default: libseccomp\'s program alone');
  const enosysDefault = build({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures: ['SCMP_ARCH_X86_64'], syscalls: [allowOnly] });
  t.same(enosysDefault, exported(ENOSYS, ['x86_64'], [[ACT.ALLOW, ALLOWED]]), 'ERRNO(ENOSYS) default: nothing to add');
  const x32Bit = build({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [allowOnly] });
  t.equal(answer(x32Bit, AUDIT.X86_64, X32_SYSCALL_BIT | 1000), answer(exported(EPERM, ['x86_64'], [[ACT.ALLOW, ALLOWED]]), AUDIT.X86_64, X32_SYSCALL_BIT | 1000),
    'x32 not listed: libseccomp\'s answer for x32 numbers');
  t.equal(AUDIT_ARCH_X86_64, AUDIT.X86_64);
  t.equal(SECCOMP_RET_ERRNO_ENOSYS, ENOSYS);
});
