/**
 * planSeccomp and its helpers: linux.seccomp → the plan the init builds its filter from
 * (actions with their errno, operators, architectures, flags, the same-index split, uint64
 * values), every config error with its JSON path, and the capability sets around the load.
 * No container is started (the libseccomp checks at the end only load the library).
 */
import t, { type Test } from 'tap';
import {
  actionName, capabilitiesForSeccomp, certainAction, planSeccomp, seccompFeatures, type SeccompPlan,
} from '../../runtime/linux/seccomp.js';
import { loadLibseccomp } from '../../runtime/linux/libseccomp.js';
import { planContainer } from '../../runtime/container/plan-init.js';
import type { OciConfig, OciSeccomp } from '../../runtime/spec/config.js';

/** Config pieces straight from JSON, as loadConfig hands them over (validation is not the point here). */
const seccomp = (value: Record<string, unknown>) => value as unknown as OciSeccomp;
const plan = (value: Record<string, unknown>) => planSeccomp(seccomp(value))!;
const refused = (t: Test, value: Record<string, unknown>, message: string | RegExp) => {
  t.throws(() => planSeccomp(seccomp(value)), { message }, typeof message === 'string' ? message : message.source);
};
const allow = 'SCMP_ACT_ALLOW';

const ACT = {
  KILL_THREAD: 0x00000000,
  KILL_PROCESS: 0x80000000,
  TRAP: 0x00030000,
  ERRNO: (n: number) => 0x00050000 + n,
  TRACE: (n: number) => 0x7ff00000 + n,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  NOTIFY: 0x7fc00000,
};

t.test('no seccomp field: no plan', async (t) => {
  t.equal(planSeccomp(undefined), undefined);
});

t.test('actions: every name, with the errno of ERRNO and TRACE (EPERM unless errnoRet says)', async (t) => {
  const cases: [string, number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, ACT.KILL_THREAD],
    ['SCMP_ACT_KILL_THREAD', undefined, ACT.KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, ACT.KILL_PROCESS],
    ['SCMP_ACT_TRAP', undefined, ACT.TRAP],
    ['SCMP_ACT_ERRNO', undefined, ACT.ERRNO(1)],
    ['SCMP_ACT_ERRNO', 13, ACT.ERRNO(13)],
    ['SCMP_ACT_ERRNO', 0, ACT.ERRNO(0)],
    ['SCMP_ACT_ERRNO', 65535, ACT.ERRNO(65535)],
    ['SCMP_ACT_TRACE', undefined, ACT.TRACE(1)],
    ['SCMP_ACT_TRACE', 42, ACT.TRACE(42)],
    ['SCMP_ACT_LOG', undefined, ACT.LOG],
    ['SCMP_ACT_ALLOW', undefined, ACT.ALLOW],
  ];
  for (const [action, errnoRet, value] of cases) {
    const p = plan({ defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: ['mkdir'], action, ...(errnoRet === undefined ? {} : { errnoRet }) }] });
    const expected = action === 'SCMP_ACT_LOG' ? [] : [value];
    t.same(p.rules.map((r) => r.action), expected, `${action}${errnoRet === undefined ? '' : ` errnoRet ${errnoRet}`}`);
  }
  const notify = plan({ defaultAction: allow, listenerPath: '/run/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] });
  t.equal(notify.rules[0]!.action, ACT.NOTIFY, 'SCMP_ACT_NOTIFY');
  t.equal(notify.notify, true, 'a NOTIFY rule asks for a listener fd');
  t.equal(plan({ defaultAction: allow }).notify, false);
});

t.test('default action and defaultErrnoRet', async (t) => {
  const execve = [{ names: ['execve'], action: allow }];
  t.equal(plan({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: execve }).defaultAction, ACT.ERRNO(1), 'EPERM by default');
  t.equal(plan({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: execve }).defaultAction, ACT.ERRNO(38), 'defaultErrnoRet');
  t.equal(plan({ defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 7, syscalls: [{ names: ['execve'], action: allow }] }).defaultAction, ACT.TRACE(7));
  t.equal(plan({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: [{ names: ['execve'], action: allow }] }).defaultAction, ACT.KILL_PROCESS);
  const p = plan({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    syscalls: [{ names: ['execve', 'read'], action: allow }, { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
  });
  t.same(p.rules.map((r) => r.action), [ACT.ALLOW, ACT.ERRNO(1)], "a rule without errnoRet returns EPERM, not defaultErrnoRet (the spec; runc)");
});

t.test('errno on actions that have none, or that does not fit', async (t) => {
  refused(t, { defaultAction: allow, defaultErrnoRet: 1 },
    'config.json: /linux/seccomp/defaultErrnoRet: SCMP_ACT_ALLOW takes no errno: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do');
  refused(t, { defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO' }, { names: ['b'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] },
    'config.json: /linux/seccomp/syscalls/1/errnoRet: SCMP_ACT_KILL takes no errno: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do');
  refused(t, { defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', errnoRet: 65536 }] },
    'config.json: /linux/seccomp/syscalls/0/errnoRet: 65536 is not an errno seccomp can return (0 to 65535)');
});

t.test('unknown names are errors naming the JSON path', async (t) => {
  refused(t, { defaultAction: 'SCMP_ACT_FOO' }, 'config.json: /linux/seccomp/defaultAction: unknown action "SCMP_ACT_FOO"');
  refused(t, { defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO' }, { names: ['b'], action: 'SCMP_ACT_LOG' }, { names: ['c'], action: 'SCMP_ACT_FOO' }] },
    'config.json: /linux/seccomp/syscalls/2/action: unknown action "SCMP_ACT_FOO"');
  refused(t, { defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 1, op: 'SCMP_CMP_LIKE' }] }] },
    'config.json: /linux/seccomp/syscalls/0/args/1/op: unknown operator "SCMP_CMP_LIKE"');
  refused(t, { defaultAction: allow, architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_Z80'] },
    'config.json: /linux/seccomp/architectures/1: unknown architecture "SCMP_ARCH_Z80"');
  refused(t, { defaultAction: allow, flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_FAST'] },
    'config.json: /linux/seccomp/flags/1: unknown flag "SECCOMP_FILTER_FLAG_FAST"');
  refused(t, { defaultAction: allow, syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] },
    'config.json: /linux/seccomp/syscalls/0/names: must name at least one syscall');
  refused(t, { defaultAction: allow, syscalls: [{ names: ['mkdir', ''], action: 'SCMP_ACT_ERRNO' }] },
    'config.json: /linux/seccomp/syscalls/0/names/1: "" is not a syscall name');
});

t.test('operators', async (t) => {
  const ops = { SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7 };
  for (const [op, value] of Object.entries(ops)) {
    const p = plan({ defaultAction: allow, syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o600, valueTwo: 0o400, op }] }] });
    t.same(p.rules[0]!.conditionSets, [[{ index: 1, op: value, value: '384', valueTwo: '256' }]], op);
  }
});

t.test('arguments: indexes, the same-index split, valueTwo', async (t) => {
  const p = plan({
    defaultAction: allow,
    syscalls: [
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
      { names: ['chmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0o600, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0o640, op: 'SCMP_CMP_EQ' }] },
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [] },
    ],
  });
  t.same(p.rules[0]!.conditionSets, [[
    { index: 0, op: 4, value: '1', valueTwo: '0' },
    { index: 1, op: 4, value: '9', valueTwo: '0' },
  ]], 'different indexes: one rule, all conditions (AND)');
  t.same(p.rules[1]!.conditionSets, [
    [{ index: 1, op: 4, value: '384', valueTwo: '0' }],
    [{ index: 1, op: 4, value: '416', valueTwo: '0' }],
  ], 'an index twice: one rule per condition (OR), as runc does, since libseccomp refuses it in one rule');
  t.same(p.rules[2]!.conditionSets, [], 'no args: one unconditional rule');
  for (const index of [6, -1, 1.5, '0']) {
    t.throws(() => plan({ defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index, value: 1, op: 'SCMP_CMP_EQ' }] }] }),
      { message: /^config\.json: \/linux\/seccomp\/syscalls\/0\/args\/0\/index: .* is not a syscall argument index \(0 to 5\)$/ }, `index ${JSON.stringify(index)}`);
  }
});

t.test('uint64 values', async (t) => {
  const valueOf = (value: unknown, field = 'value') => plan({
    defaultAction: allow,
    syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 1, [field]: value }] }],
  }).rules[0]!.conditionSets[0]![0]![field === 'value' ? 'value' : 'valueTwo'];
  t.equal(valueOf(0), '0');
  t.equal(valueOf(4294967295), '4294967295', '2^32 - 1');
  t.equal(valueOf(4294967296), '4294967296', 'above 32 bits');
  t.equal(valueOf(2 ** 53 - 1), '9007199254740991');
  t.equal(valueOf(JSON.parse('18446744069414584320') as number), '18446744069414584320', '0xFFFFFFFF00000000, an exact double, stays exact');
  t.equal(valueOf(JSON.parse('18446744073709551615') as number), '18446744073709551615', 'all ones, which JSON.parse rounds to 2^64, is all ones again');
  t.equal(valueOf(JSON.parse('9223372036854775808') as number, 'valueTwo'), '9223372036854775808', '2^63 in valueTwo');
  for (const bad of [-1, 1.5, '1', 2 ** 65]) {
    t.throws(() => valueOf(bad), { message: /^config\.json: \/linux\/seccomp\/syscalls\/0\/args\/0\/value: / }, `value ${JSON.stringify(bad)}`);
  }
  t.throws(() => valueOf(-3, 'valueTwo'), { message: /\/args\/0\/valueTwo: -3 is not a uint64$/ });
  const plain = JSON.parse(JSON.stringify(plan({ defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: JSON.parse('18446744073709551615') as number }] }] })));
  t.equal((plain as SeccompPlan).rules[0]!.conditionSets[0]![0]!.value, '18446744073709551615', 'the plan survives JSON (the init gets it over a socket)');
});

t.test('architectures map to libseccomp names', async (t) => {
  const p = plan({ defaultAction: allow, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390X', 'SCMP_ARCH_RISCV64'] });
  t.same(p.architectures.map((a) => a.libseccomp), ['x86_64', 'x86', 'x32', 'aarch64', 'mipsel64n32', 'ppc64le', 's390x', 'riscv64']);
  t.same(p.architectures[1], { name: 'SCMP_ARCH_X86', libseccomp: 'x86', path: '/linux/seccomp/architectures/1' });
  t.same(plan({ defaultAction: allow }).architectures, [], 'none listed: only the native one (always in the filter)');
});

t.test('flags', async (t) => {
  t.same(plan({ defaultAction: allow }).flags, { log: false, specAllow: 'default', waitKillableRecv: false, tsync: false },
    'no flags field: SPEC_ALLOW when supported (runc >= 1.2, crun)');
  t.same(plan({ defaultAction: allow, flags: [] }).flags, { log: false, specAllow: 'no', waitKillableRecv: false, tsync: false }, 'an empty list sets nothing');
  t.same(plan({ defaultAction: allow, flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }).flags,
    { log: true, specAllow: 'yes', waitKillableRecv: true, tsync: true });
});

t.test('rules that repeat the default action are dropped (libseccomp refuses them; runc skips them)', async (t) => {
  const p = plan({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['execve'], action: allow },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
      { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
    ],
  });
  t.same(p.rules.map((r) => r.path), ['/linux/seccomp/syscalls/0', '/linux/seccomp/syscalls/2'], 'ERRNO(EPERM) under an ERRNO(EPERM) default goes; ERRNO(EACCES) stays');
});

t.test('NOTIFY: listener, metadata and the container state it will get', async (t) => {
  const config = { defaultAction: allow, listenerPath: '/run/agent.sock', listenerMetadata: 'MKNOD=/dev/null', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
  const container = { ociVersion: '1.0.2', id: 'c1', bundle: '/b', annotations: { k: 'v' } };
  t.same(planSeccomp(seccomp(config), container)!.listener, { path: '/run/agent.sock', metadata: 'MKNOD=/dev/null', container });
  t.equal(plan({ ...config, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }).listener, undefined, 'listenerPath without NOTIFY is ignored (the spec)');
  refused(t, { defaultAction: allow, syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO' }, { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] },
    'config.json: /linux/seccomp/syscalls/1/action: SCMP_ACT_NOTIFY needs /linux/seccomp/listenerPath, the socket the notify fd is sent to');
  refused(t, { defaultAction: allow, listenerMetadata: 'x' }, 'config.json: /linux/seccomp/listenerMetadata: is set without /linux/seccomp/listenerPath');
  refused(t, { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' }, /^config\.json: \/linux\/seccomp\/defaultAction: SCMP_ACT_NOTIFY cannot be the default action/);
  refused(t, { ...config, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['recvmsg', 'sendmsg'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 2, value: 0, op: 'SCMP_CMP_EQ' }] }] },
    /^config\.json: \/linux\/seccomp\/syscalls\/1\/action: SCMP_ACT_NOTIFY cannot be used for sendmsg/);
  refused(t, { ...config, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['read', 'write'], action: 'SCMP_ACT_NOTIFY' }] },
    /^config\.json: \/linux\/seccomp\/syscalls\/1\/action: SCMP_ACT_NOTIFY cannot be used for the write syscall/);
  refused(t, { ...config, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['sendmsg'], action: 'SCMP_ACT_ERRNO' }] },
    /^config\.json: \/linux\/seccomp\/syscalls\/1: the profile makes sendmsg SCMP_ACT_ERRNO\(1\), but tsrunc's init sends the notify fd/);
  refused(t, { ...config, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['close'], action: 'SCMP_ACT_KILL_PROCESS' }] },
    /^config\.json: \/linux\/seccomp\/syscalls\/1: the profile makes close SCMP_ACT_KILL_PROCESS, but tsrunc's init closes the listener connection/);
  t.ok(plan({ ...config, syscalls: [{ names: ['mkdir', 'close'], action: 'SCMP_ACT_NOTIFY' }] }), 'NOTIFY on close is fine: the listener has the fd by then');
  t.ok(plan({ ...config, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }, { names: ['close'], action: 'SCMP_ACT_ERRNO' }] }), 'close failing is fine: exec closes it');
});

t.test('a profile that certainly stops execve is refused: the process could never start', async (t) => {
  refused(t, { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write'], action: allow }] },
    "config.json: /linux/seccomp/defaultAction: the profile makes execve SCMP_ACT_ERRNO(1), but tsrunc's init starts the container process with execve after loading the filter, so it could never start");
  refused(t, { defaultAction: allow, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }, { names: ['execveat', 'execve'], action: 'SCMP_ACT_KILL' }] },
    /^config\.json: \/linux\/seccomp\/syscalls\/1: the profile makes execve SCMP_ACT_KILL_THREAD, but/);
  refused(t, { defaultAction: allow, syscalls: [{ names: ['execve'], action: 'SCMP_ACT_TRAP' }] }, /makes execve SCMP_ACT_TRAP/);
  t.ok(plan({ defaultAction: allow, syscalls: [{ names: ['execve'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: 0, op: 'SCMP_CMP_EQ' }] }] }),
    'a rule with conditions is not judged: its outcome depends on the arguments');
  t.ok(plan({ defaultAction: 'SCMP_ACT_KILL', syscalls: [{ names: ['execve'], action: 'SCMP_ACT_LOG' }] }), 'LOG lets it run');
  t.ok(plan({ defaultAction: allow, syscalls: [{ names: ['execve'], action: 'SCMP_ACT_TRACE' }] }), 'TRACE depends on a tracer');
});

t.test('certainAction', async (t) => {
  const p = plan({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['execve', 'read'], action: allow },
      { names: ['read'], action: 'SCMP_ACT_LOG' },
      { names: ['chmod'], action: allow, args: [{ index: 1, value: 0o644, op: 'SCMP_CMP_EQ' }] },
      { names: ['write'], action: allow },
      { names: ['write'], action: allow },
    ],
  });
  t.same(certainAction(p, 'execve'), { action: ACT.ALLOW, path: '/linux/seccomp/syscalls/0' });
  t.same(certainAction(p, 'mkdir'), { action: ACT.ERRNO(1), path: '/linux/seccomp/defaultAction' }, 'no rule: the default');
  t.equal(certainAction(p, 'read'), undefined, 'rules that disagree');
  t.equal(certainAction(p, 'chmod'), undefined, 'conditions');
  t.same(certainAction(p, 'write'), { action: ACT.ALLOW, path: '/linux/seccomp/syscalls/3' }, 'rules that agree');
});

t.test('actionName', async (t) => {
  t.equal(actionName(ACT.ERRNO(13)), 'SCMP_ACT_ERRNO(13)');
  t.equal(actionName(ACT.TRACE(2)), 'SCMP_ACT_TRACE(2)');
  t.equal(actionName(ACT.KILL_THREAD), 'SCMP_ACT_KILL_THREAD');
  t.equal(actionName(ACT.KILL_PROCESS), 'SCMP_ACT_KILL_PROCESS');
  t.equal(actionName(ACT.NOTIFY), 'SCMP_ACT_NOTIFY');
});

t.test('capabilities around the load', async (t) => {
  const profile = plan({ defaultAction: allow });
  const docker = { bounding: [0, 1, 5], effective: [0, 1, 5], permitted: [0, 1, 5], inheritable: [0, 1], ambient: [] };
  const lastCap = 40;
  t.same(capabilitiesForSeccomp({ seccomp: undefined, noNewPrivileges: false, capabilities: docker, uid: 0 }, lastCap),
    { apply: docker, afterLoad: undefined }, 'no seccomp: the config\'s sets');
  t.same(capabilitiesForSeccomp({ seccomp: profile, noNewPrivileges: true, capabilities: docker, uid: 1000 }, lastCap),
    { apply: docker, afterLoad: undefined }, 'noNewPrivileges: loading needs no capability');
  const admin = { ...docker, effective: [...docker.effective, 21], permitted: [...docker.permitted, 21] };
  t.same(capabilitiesForSeccomp({ seccomp: profile, noNewPrivileges: false, capabilities: admin, uid: 0 }, lastCap),
    { apply: admin, afterLoad: undefined }, 'CAP_SYS_ADMIN kept anyway');
  t.same(capabilitiesForSeccomp({ seccomp: profile, noNewPrivileges: false, capabilities: undefined, uid: 0 }, lastCap),
    { apply: undefined, afterLoad: undefined }, 'root without a capabilities field keeps everything');
  t.same(capabilitiesForSeccomp({ seccomp: profile, noNewPrivileges: false, capabilities: docker, uid: 1000 }, lastCap), {
    apply: { ...docker, effective: [0, 1, 5, 21], permitted: [0, 1, 5, 21] },
    afterLoad: { effective: [0b100011, 0], permitted: [0b100011, 0], inheritable: [0b11, 0] },
  }, 'without CAP_SYS_ADMIN: held for the load, then the config\'s sets');
  const nobody = capabilitiesForSeccomp({ seccomp: profile, noNewPrivileges: false, capabilities: undefined, uid: 1000 }, 3);
  t.same(nobody, {
    apply: { bounding: [0, 1, 2, 3], effective: [21], permitted: [21], inheritable: [], ambient: [] },
    afterLoad: { effective: [0, 0], permitted: [0, 0], inheritable: [0, 0] },
  }, 'a non-root user without a capabilities field ends with none, as it would have');
  t.same(capabilitiesForSeccomp({ seccomp: profile, noNewPrivileges: false, capabilities: { ...docker, effective: [0], permitted: [0, 33] }, uid: 0 }, lastCap).afterLoad,
    { effective: [1, 0], permitted: [1, 2], inheritable: [3, 0] }, 'capabilities above 31 go to the second word');
});

t.test('planContainer gives the listener the container state', async (t) => {
  const config: OciConfig = {
    ociVersion: '1.0.2-dev',
    process: { args: ['sh'], cwd: '/' },
    root: { path: 'rootfs' },
    annotations: { owner: 'test' },
    linux: {
      namespaces: [{ type: 'mount' }],
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/a.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] },
    },
  };
  const planned = planContainer(config, { id: 'box', bundle: '/bundles/box', stateDir: '/run/tsrunc/box', noPivot: false });
  t.same(planned.process!.seccomp!.listener!.container, { ociVersion: '1.0.2-dev', id: 'box', bundle: '/bundles/box', annotations: { owner: 'test' } });
  t.throws(() => planContainer({ ...config, linux: { ...config.linux, seccomp: { defaultAction: 'SCMP_ACT_KILL' } } }, { id: 'box', bundle: '/b', stateDir: '/s', noPivot: false }),
    { message: /^config\.json: \/linux\/seccomp\/defaultAction: the profile makes execve SCMP_ACT_KILL_THREAD/ }, 'create fails before anything exists');
});

t.test('libseccomp binding', async (t) => {
  t.throws(() => loadLibseccomp('libseccomp-not-there.so.2'), {
    message: /^linux\.seccomp needs libseccomp-not-there\.so\.2 \(Debian\/Ubuntu package libseccomp2, Fedora libseccomp\), which cannot be loaded: /,
  }, 'a missing library is one clear error');
  const { lib } = loadLibseccomp();
  t.match(lib.version, /^2\.\d+\.\d+$/);
  t.equal(lib.resolveSyscall('mkdir'), 83, 'x86_64 numbers');
  t.equal(lib.resolveSyscall('no_such_syscall'), -1, 'unknown: __NR_SCMP_ERROR, which the init skips');
  t.equal(lib.archResolve('x86'), 0x40000003, 'SCMP_ARCH_X86 = AUDIT_ARCH_I386');
  t.equal(lib.archResolve('x86_64'), 0xc000003e);
  const features = seccompFeatures();
  t.equal(features.enabled, true);
  t.same(features.operators, ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE']);
  t.ok(features.actions?.includes('SCMP_ACT_NOTIFY'));
  t.ok(features.archs?.includes('SCMP_ARCH_X86_64') && features.archs.includes('SCMP_ARCH_X86'));
  t.same(features.knownFlags, ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);
});
