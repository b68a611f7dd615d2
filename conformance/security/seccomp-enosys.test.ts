/**
 * The -ENOSYS stub in real containers (runc's seccomp.bats "runc run [seccomp -ENOSYS
 * handling]"): a syscall number above what the profile's rules name on its architectures fails
 * with ENOSYS, so that a program falls back from a syscall newer than the profile, while a known
 * syscall the profile does not allow still gets the default action. The probe is a static
 * program (enosys-probe.c) built into a copy of the busybox rootfs.
 */
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { busyboxConfig, repoRoot, type JsonObject, type RunResult, type Sandbox } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, fields } from '../lib/container-helpers.js';
import { withLinux } from './helpers.js';
import { BUSYBOX_SYSCALLS, deny, newSandbox, nextId } from './seccomp-helpers.js';

const probeSource = path.join(repoRoot, 'conformance', 'security', 'enosys-probe.c');
const ARCHITECTURES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
const allowList = { names: BUSYBOX_SYSCALLS, action: 'SCMP_ACT_ALLOW' };

/** A sandbox whose rootfs copy has /bin/enosys-probe. */
function setup(t: Test): { sandbox: Sandbox; rootfs: string } {
  const sandbox = newSandbox(t);
  const rootfs = copyRootfs(sandbox);
  execFileSync('gcc', ['-O2', '-static', '-o', path.join(rootfs, 'bin', 'enosys-probe'), probeSource]);
  return { sandbox, rootfs };
}

/** `tsrunc run` of the probe making `syscalls` under `seccomp`. */
function probe(sandbox: Sandbox, rootfs: string, seccomp: JsonObject, syscalls: string[]): Promise<RunResult> {
  const cfg = withLinux({ ...busyboxConfig(['/bin/enosys-probe', ...syscalls]), root: { path: rootfs } }, { seccomp });
  return sandbox.tsrunc(['run', '--bundle', sandbox.bundle(cfg), nextId('en')]);
}

t.test('defaultAction ERRNO: a syscall past the profile is ENOSYS, a known one not allowed EPERM', async (t) => {
  const { sandbox, rootfs } = setup(t);
  const result = await probe(sandbox, rootfs, { defaultAction: 'SCMP_ACT_ERRNO', architectures: ARCHITECTURES, syscalls: [allowList] },
    ['1000', 'unshare', 'getppid']);
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { 1000: '38', unshare: '1', getppid: '0' }, 'syscall(1000): ENOSYS; unshare: EPERM; getppid (allowed): runs');
  assertNothingLeft(t, sandbox);
});

t.test('defaultErrnoRet names what known syscalls get; the newer ones still get ENOSYS', async (t) => {
  const { sandbox, rootfs } = setup(t);
  const result = await probe(sandbox, rootfs, { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 6, architectures: ARCHITECTURES, syscalls: [allowList] },
    ['1000', 'unshare']);
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { 1000: '38', unshare: '6' }, 'ENOSYS; ENXIO');
  assertNothingLeft(t, sandbox);
});

t.test('defaultAction KILL_PROCESS: a syscall past the profile fails with ENOSYS instead of killing', async (t) => {
  const { sandbox, rootfs } = setup(t);
  const result = await probe(sandbox, rootfs, { defaultAction: 'SCMP_ACT_KILL_PROCESS', architectures: ARCHITECTURES, syscalls: [allowList] },
    ['1000', 'unshare']);
  t.equal(result.signal, null, 'tsrunc itself is not signalled');
  t.equal(result.status, 128 + 31, 'unshare, known and not allowed: killed by SIGSYS');
  t.same(fields(result.stdout), { 1000: '38' }, 'syscall(1000) returned ENOSYS first');
  assertNothingLeft(t, sandbox);
});

t.test('as runc: no stub without architectures, nor under a permissive default', async (t) => {
  const { sandbox, rootfs } = setup(t);
  const unlisted = await probe(sandbox, rootfs, { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [allowList] }, ['1000', 'unshare']);
  t.equal(unlisted.status, 0, unlisted.stderr);
  t.same(fields(unlisted.stdout), { 1000: '1', unshare: '1' }, 'no architectures listed: the default action for every number');
  const permissive = await probe(sandbox, rootfs, { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHITECTURES, syscalls: [deny(['unshare'])] },
    ['1000', 'unshare']);
  t.equal(permissive.status, 0, permissive.stderr);
  t.same(fields(permissive.stdout), { 1000: '38', unshare: '1' }, 'ALLOW: the kernel\'s own ENOSYS; the deny rule');
  assertNothingLeft(t, sandbox);
});
