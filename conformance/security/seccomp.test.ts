/**
 * linux.seccomp in real busybox containers: what a syscall the profile denies returns, argument
 * conditions with every operator, the kill actions, allow lists, capabilities without
 * noNewPrivileges, and create failures that leave nothing behind. NOTIFY and the init's own
 * syscalls after loading the filter are in seccomp-notify.test.ts.
 */
import t from 'tap';
import type { JsonObject } from '../lib/harness.js';
import { assertNothingLeft, capabilityMask, expectCreateFailure, fields } from '../lib/container-helpers.js';
import { BUSYBOX_SYSCALLS, DOCKER_CAPS, DOCKER_CAP_NUMBERS, config, deny, newSandbox, run } from './seccomp-helpers.js';

t.test('a denied syscall returns the errno the profile names', async (t) => {
  const sandbox = newSandbox(t);
  const script = 'mkdir /tmp/a; echo mkdir=$?; echo x > /tmp/f; chmod 600 /tmp/f; echo chmod=$?; rmdir /tmp; echo rmdir=$?; echo done';
  const result = await run(sandbox, config(script, {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      deny(['mkdir', 'mkdirat'], { errnoRet: 13 }),
      deny(['chmod']),
      deny(['rmdir'], { errnoRet: 38 }),
    ],
  }));
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { mkdir: '1', chmod: '1', rmdir: '1' });
  t.match(result.stdout, /^done$/m, 'everything else runs');
  t.match(result.stderr, "mkdir: can't create directory '/tmp/a': Permission denied", 'errnoRet 13: EACCES');
  t.match(result.stderr, 'chmod: /tmp/f: Operation not permitted', 'no errnoRet: EPERM');
  t.match(result.stderr, "rmdir: '/tmp': Function not implemented", 'errnoRet 38: ENOSYS');
  assertNothingLeft(t, sandbox);
});

t.test('defaultAction ERRNO with an allow list; defaultErrnoRet is what the rest returns', async (t) => {
  const sandbox = newSandbox(t);
  const script = 'echo hello; grep Seccomp: /proc/self/status; echo x > /tmp/f; cat /tmp/f; mkdir /tmp/a; echo mkdir=$?; chmod 600 /tmp/f; echo chmod=$?';
  const result = await run(sandbox, config(script, {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    syscalls: [{ names: BUSYBOX_SYSCALLS, action: 'SCMP_ACT_ALLOW' }, deny(['chmod'])],
  }));
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /^hello\nSeccomp:\t2\nx\n/, 'the allowed syscalls run: sh, a pipe, grep, cat, a redirection');
  t.same(fields(result.stdout), { mkdir: '1', chmod: '1' });
  t.match(result.stderr, "mkdir: can't create directory '/tmp/a': Function not implemented", 'not listed: the default action with defaultErrnoRet (ENOSYS)');
  t.match(result.stderr, 'chmod: /tmp/f: Operation not permitted', 'a rule without errnoRet: EPERM, not defaultErrnoRet');
  assertNothingLeft(t, sandbox);
});

t.test('argument conditions: only the matching call is denied', async (t) => {
  const sandbox = newSandbox(t);
  const script = [
    'echo > /tmp/f; chmod 600 /tmp/f; echo chmod600=$?; chmod 644 /tmp/f; echo chmod644=$?; echo mode=$(stat -c %a /tmp/f)',
    'kill -0 $$; echo kill0=$?; kill -CONT $$; echo killcont=$?',
  ].join('\n');
  const result = await run(sandbox, config(script, {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      deny(['chmod'], { errnoRet: 13, args: [{ index: 1, value: 0o600, op: 'SCMP_CMP_EQ' }] }),
      // kill(pid, 0) probes a pid; every real signal still goes through.
      deny(['kill'], { args: [{ index: 1, value: 0, op: 'SCMP_CMP_EQ' }] }),
    ],
  }));
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { chmod600: '1', chmod644: '0', mode: '644', kill0: '1', killcont: '0' });
  t.match(result.stderr, 'chmod: /tmp/f: Permission denied');
  assertNothingLeft(t, sandbox);
});

t.test('every operator, checked by the kernel on chmod\'s mode argument', async (t) => {
  const modes = ['600', '644', '666'];
  const cases: [string, JsonObject, string[]][] = [
    ['SCMP_CMP_NE', { value: 0o644 }, ['600', '666']],
    ['SCMP_CMP_LT', { value: 0o644 }, ['600']],
    ['SCMP_CMP_LE', { value: 0o644 }, ['600', '644']],
    ['SCMP_CMP_EQ', { value: 0o644 }, ['644']],
    ['SCMP_CMP_GE', { value: 0o644 }, ['644', '666']],
    ['SCMP_CMP_GT', { value: 0o644 }, ['666']],
    // value is the mask, valueTwo what the masked argument must equal: "world-writable".
    ['SCMP_CMP_MASKED_EQ', { value: 0o002, valueTwo: 0o002 }, ['666']],
  ];
  const script = `echo > /tmp/f; for m in ${modes.join(' ')}; do if chmod $m /tmp/f 2>/dev/null; then echo $m=ok; else echo $m=denied; fi; done`;
  for (const [op, values, denied] of cases) {
    await t.test(op, async (t) => {
      const sandbox = newSandbox(t);
      const result = await run(sandbox, config(script, {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [deny(['chmod'], { args: [{ index: 1, op, ...values }] })],
      }));
      t.equal(result.status, 0, result.stderr);
      t.same(fields(result.stdout), Object.fromEntries(modes.map((m) => [m, denied.includes(m) ? 'denied' : 'ok'])));
      assertNothingLeft(t, sandbox);
    });
  }
});

t.test('one argument index twice: either condition denies (one rule each, as runc)', async (t) => {
  const sandbox = newSandbox(t);
  const script = 'echo > /tmp/f; for m in 600 640 644; do if chmod $m /tmp/f 2>/dev/null; then echo $m=ok; else echo $m=denied; fi; done';
  const result = await run(sandbox, config(script, {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [deny(['chmod'], { args: [{ index: 1, value: 0o600, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0o640, op: 'SCMP_CMP_EQ' }] })],
  }));
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { 600: 'denied', 640: 'denied', 644: 'ok' });
  assertNothingLeft(t, sandbox);
});

t.test('the kill actions end the process with SIGSYS (exit status 159 from run)', async (t) => {
  for (const action of ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP']) {
    await t.test(action, async (t) => {
      const sandbox = newSandbox(t);
      const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action }] };
      const direct = await run(sandbox, config('echo before; exec mkdir /tmp/x', seccomp));
      t.equal(direct.status, 159, 'the container process itself: 128 + SIGSYS');
      t.equal(direct.stdout, 'before\n');
      if (action === 'SCMP_ACT_KILL') {
        const child = await run(sandbox, config('mkdir /tmp/x; echo status=$?', seccomp));
        t.equal(child.status, 0, child.stderr);
        t.same(fields(child.stdout), { status: '159' }, 'a child of sh: sh sees it killed by SIGSYS');
      }
      assertNothingLeft(t, sandbox);
    });
  }
});

t.test('LOG and TRACE let the syscall run (no tracer: TRACE fails it with ENOSYS)', async (t) => {
  const sandbox = newSandbox(t);
  const result = await run(sandbox, config('mkdir /tmp/a; echo mkdir=$?; rmdir /tmp/a; echo rmdir=$?', {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_LOG' }, { names: ['rmdir'], action: 'SCMP_ACT_TRACE', errnoRet: 7 }],
  }));
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { mkdir: '0', rmdir: '1' });
  t.match(result.stderr, "rmdir: '/tmp/a': Function not implemented");
  assertNothingLeft(t, sandbox);
});

t.test('syscall names unknown here are skipped; architectures and flags are taken', async (t) => {
  const sandbox = newSandbox(t);
  const result = await run(sandbox, config('mkdir /tmp/a; echo mkdir=$?; grep Seccomp: /proc/self/status', {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
    syscalls: [deny(['no_such_syscall_anywhere', 'mkdir', 'socketcall'], { errnoRet: 13 })],
  }));
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /^mkdir=1\nSeccomp:\t2\n/);
  t.match(result.stderr, 'Permission denied', 'the known names of the same rule still apply');
  assertNothingLeft(t, sandbox);
});

t.test('capabilities: the filter loads without noNewPrivileges and without CAP_SYS_ADMIN, which the process does not get', async (t) => {
  const sandbox = newSandbox(t);
  const caps = { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS, inheritable: DOCKER_CAPS, ambient: DOCKER_CAPS };
  const script = 'grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\\t" | tr : =; mkdir /tmp/a';
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['mkdir'], { errnoRet: 13 })] };
  const mask = capabilityMask(DOCKER_CAP_NUMBERS);
  for (const [user, noNewPrivileges] of [[{ uid: 0, gid: 0 }, false], [{ uid: 1000, gid: 1000 }, false], [{ uid: 1000, gid: 1000 }, true]] as const) {
    const result = await run(sandbox, config(script, seccomp, { capabilities: caps, user, noNewPrivileges }));
    const label = `uid ${user.uid}, noNewPrivileges ${noNewPrivileges}`;
    t.equal(result.status, 1, `${label}: ${result.stderr}`);
    t.same(fields(result.stdout), { CapEff: mask, CapPrm: mask, CapBnd: mask, NoNewPrivs: noNewPrivileges ? '1' : '0', Seccomp: '2' }, label);
    t.match(result.stderr, 'Permission denied', `${label}: the filter is on`);
  }
  const nobody = await run(sandbox, config(script, seccomp, { user: { uid: 1000, gid: 1000 } }));
  t.equal(nobody.status, 1, nobody.stderr);
  const seen = fields(nobody.stdout);
  t.same([seen['CapEff'], seen['CapPrm'], seen['NoNewPrivs'], seen['Seccomp']], ['0'.repeat(16), '0'.repeat(16), '0', '2'],
    'a non-root user without a capabilities field: no capabilities, as without seccomp');
  assertNothingLeft(t, sandbox);
});

t.test('create fails with one clear line, leaving nothing behind', async (t) => {
  const base = (seccomp: JsonObject, processFields: JsonObject = {}) => config('true', seccomp, processFields);
  const cases: [string, JsonObject, RegExp][] = [
    ['an unknown action', base({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['a']), deny(['b']), { names: ['c'], action: 'SCMP_ACT_FOO' }] }),
      /^tsrunc: config\.json: \/linux\/seccomp\/syscalls\/2\/action: must be equal to one of the allowed values: "SCMP_ACT_KILL"/],
    ['an argument index past 5', base({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['a'], { args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] })] }),
      /^tsrunc: config\.json: \/linux\/seccomp\/syscalls\/0\/args\/0\/index: 6 is not a syscall argument index \(0 to 5\)$/],
    ['errnoRet on ALLOW', base({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }] }),
      /config\.json: \/linux\/seccomp\/syscalls\/0\/errnoRet: SCMP_ACT_ALLOW takes no errno/],
    ['NOTIFY without listenerPath', base({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }),
      /config\.json: \/linux\/seccomp\/syscalls\/0\/action: SCMP_ACT_NOTIFY needs \/linux\/seccomp\/listenerPath/],
    ['an allow list without execve', base({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: BUSYBOX_SYSCALLS.filter((s) => s !== 'execve'), action: 'SCMP_ACT_ALLOW' }] }),
      /config\.json: \/linux\/seccomp\/defaultAction: the profile makes execve SCMP_ACT_ERRNO\(1\), but .* could never start$/],
    ['an architecture this libseccomp does not know', base({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_SHEB'] }),
      /^tsrunc: preparing the seccomp filter: config\.json: \/linux\/seccomp\/architectures\/1: SCMP_ARCH_SHEB is not supported by libseccomp \d/],
    ['a listener that is not there', base({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/nonexistent/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }),
      /^tsrunc: preparing the seccomp filter: failed to connect with seccomp agent \/nonexistent\/agent\.sock \(\/linux\/seccomp\/listenerPath\): connect: ENOENT/],
    ['capset denied while CAP_SYS_ADMIN must be dropped after the load',
      base({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['capset'])] }, { capabilities: { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS } }),
      /config\.json: \/linux\/seccomp\/syscalls\/0: the profile makes capset SCMP_ACT_ERRNO\(1\), but without noNewPrivileges loading a filter needs CAP_SYS_ADMIN/],
  ];
  for (const [name, cfg, expected] of cases) {
    await t.test(name, async (t) => {
      const sandbox = newSandbox(t);
      await expectCreateFailure(t, sandbox, cfg, expected);
    });
  }
  await t.test('capset denied is fine with noNewPrivileges', async (t) => {
    const sandbox = newSandbox(t);
    const result = await run(sandbox, base({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['capset'])] },
      { noNewPrivileges: true, capabilities: { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS } }));
    t.equal(result.status, 0, result.stderr);
    assertNothingLeft(t, sandbox);
  });
});


t.test('an allow list that runc 1.1 cannot run (its init needs fstatfs after the load) runs here', async (t) => {
  const sandbox = newSandbox(t);
  const result = await run(sandbox, config('echo hello', {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    syscalls: [{ names: BUSYBOX_SYSCALLS, action: 'SCMP_ACT_ALLOW' }],
  }));
  t.equal(result.status, 0, result.stderr);
  t.equal(result.stdout, 'hello\n');
  assertNothingLeft(t, sandbox);
});
