/**
 * config.process as the program sees it: its args, env, cwd, user, umask, limits,
 * capabilities, no_new_privs, OOM score and open fds; its exit status; and clean failures
 * when the cwd or the program is wrong.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig } from '../lib/harness.js';
import { assertNothingLeft, capabilityMask, copyRootfs, expectCreateFailure, fields, runScript, withProcess } from '../lib/container-helpers.js';

/** From linux/capability.h, kept apart from the runtime's own table so a wrong entry there shows. */
const capabilityNumber: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_KILL: 5, CAP_SETUID: 7, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_RAW: 13, CAP_SYS_CHROOT: 18, CAP_AUDIT_WRITE: 29,
};
const maskOf = (names: string[]) => capabilityMask(names.map((name) => capabilityNumber[name]!));
/** Prints CapInh=... CapPrm=... CapEff=... CapBnd=... CapAmb=... for the shell itself. */
const printCapabilities = "grep ^Cap /proc/$$/status | tr -d '\\t' | sed 's/:/=/'";

t.test('args with spaces, env and cwd reach the program as given', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = 'for a in "$@"; do echo "arg=[$a]"; done; echo cwd=$(pwd); env | sed "s/^/env./"';
  const config = withProcess(busyboxConfig(['sh', '-c', script, 'sh', 'one two', '  three  ', '', 'a"b\'c']), {
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello  world', 'EQUALS=a=b=c', 'EMPTY='],
    cwd: '/usr/sbin',
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'args']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['arg'], ['[one two]', '[  three  ]', '[]', '[a"b\'c]'].join('\n'), 'each arg intact, spaces and quotes included');
  t.equal(seen['cwd'], '/usr/sbin', 'the program starts in cwd');
  t.equal(seen['env.GREETING'], 'hello  world');
  t.equal(seen['env.EQUALS'], 'a=b=c');
  t.equal(seen['env.EMPTY'], '', 'an empty value is kept');
  t.equal(seen['env.PATH'], '/usr/sbin:/usr/bin:/sbin:/bin');
  t.equal(seen['env.HOME'], '/root', "HOME comes from the rootfs's /etc/passwd when unset, as runc does");
  assertNothingLeft(t, sandbox);
});

t.test('user, umask, rlimits, noNewPrivileges and oomScoreAdj as configured', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    'echo id=$(id)',
    'echo groups=$(grep ^Groups: /proc/self/status | cut -f2)',
    'echo umask=$(umask)',
    'echo nofile.soft=$(ulimit -n)',
    'echo nofile.hard=$(ulimit -Hn)',
    'echo core.soft=$(ulimit -c)',
    'echo core.hard=$(ulimit -Hc)',
    'echo as=$(ulimit -v)',
    'echo nnp=$(grep ^NoNewPrivs: /proc/self/status | cut -f2)',
    'echo oom=$(cat /proc/self/oom_score_adj)',
  ].join('\n');
  const config = withProcess(busyboxConfig(['sh', '-c', script]), {
    user: { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 },
    rlimits: [
      { type: 'RLIMIT_NOFILE', soft: 256, hard: 512 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 'INFINITY' },
      // Applied just before exec (it would starve the Node init): must still be there.
      { type: 'RLIMIT_AS', soft: 1 << 30, hard: 1 << 30 },
    ],
    noNewPrivileges: true,
    // Raising needs no privilege, so this works wherever the tests run.
    oomScoreAdj: 321,
  });
  // RLIM_INFINITY written as config.json has it, which JSON.stringify cannot do.
  const text = JSON.stringify(config).replace('"INFINITY"', '18446744073709551615');
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(text), 'user']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['id'], 'uid=1000 gid=1000 groups=10,20', 'uid, gid and exactly the additional groups');
  t.equal(seen['groups'], '10 20');
  t.equal(seen['umask'], '0027');
  t.equal(seen['nofile.soft'], '256', 'RLIMIT_NOFILE soft');
  t.equal(seen['nofile.hard'], '512', 'RLIMIT_NOFILE hard');
  t.equal(seen['core.soft'], '0');
  t.equal(seen['core.hard'], 'unlimited', 'RLIM_INFINITY is unlimited');
  t.equal(seen['as'], String((1 << 30) / 1024), 'RLIMIT_AS (ulimit -v is in KiB)');
  t.equal(seen['nnp'], '1', 'no_new_privs is set');
  t.equal(seen['oom'], '321');
  assertNothingLeft(t, sandbox);
});

t.test('what the process gets when the config sets none of those', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    'echo id=$(id)',
    'echo groups=$(grep ^Groups: /proc/self/status | cut -f2)',
    'echo umask=$(umask)',
    'echo nnp=$(grep ^NoNewPrivs: /proc/self/status | cut -f2)',
    'echo oom=$(cat /proc/self/oom_score_adj)',
  ].join('\n');
  const result = await runScript(sandbox, script);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['id'], 'uid=0(root) gid=0(root)');
  t.equal(seen['groups'], '', 'no additional groups');
  t.equal(seen['umask'], '0022', 'the default umask, as runc');
  t.equal(seen['nnp'], '0', 'no_new_privs is not set');
  t.equal(seen['oom'], fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim(), 'the OOM score is inherited');
  assertNothingLeft(t, sandbox);
});

t.test('capabilities are exactly the configured sets', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await t.test('for a non-root user with ambient capabilities', async (t) => {
    // Without file capabilities, exec leaves a non-root process permitted = effective = ambient.
    const sets = {
      bounding: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
      inheritable: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
      permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    };
    const result = await runScript(sandbox, printCapabilities, { processFields: { user: { uid: 1000, gid: 1000 }, capabilities: sets } });
    t.equal(result.status, 0, result.stderr);
    t.same(fields(result.stdout), {
      CapInh: maskOf(sets.inheritable),
      CapPrm: maskOf(sets.permitted),
      CapEff: maskOf(sets.effective),
      CapBnd: maskOf(sets.bounding),
      CapAmb: maskOf(sets.ambient),
    });
  });
  await t.test('for root', async (t) => {
    // Root's exec grants the whole bounding set and clears ambient: configure accordingly.
    const names = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_AUDIT_WRITE'];
    const sets = { bounding: names, inheritable: names, permitted: names, effective: names, ambient: [] };
    const result = await runScript(sandbox, `${printCapabilities}; chroot / true 2>/dev/null; echo chroot=$?; hostname x 2>/dev/null; echo sethostname=$?`, {
      processFields: { capabilities: sets },
    });
    t.equal(result.status, 0, result.stderr);
    const seen = fields(result.stdout);
    t.same(
      { CapInh: seen['CapInh'], CapPrm: seen['CapPrm'], CapEff: seen['CapEff'], CapBnd: seen['CapBnd'], CapAmb: seen['CapAmb'] },
      { CapInh: maskOf(names), CapPrm: maskOf(names), CapEff: maskOf(names), CapBnd: maskOf(names), CapAmb: maskOf([]) },
    );
    t.equal(seen['chroot'], '0', 'CAP_SYS_CHROOT, granted, works');
    t.not(seen['sethostname'], '0', 'CAP_SYS_ADMIN, not granted, is refused');
  });
  assertNothingLeft(t, sandbox);
});

t.test('an unknown capability is left out with a warning naming it, as the runtime-spec asks (and runc does)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const names = ['CAP_CHOWN', 'CAP_KILL'];
  const sets = { bounding: [...names, 'CAP_UNKNOWN'], inheritable: names, permitted: names, effective: ['CAP_NOPE', ...names], ambient: [] };
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(withProcess(busyboxConfig(['sh', '-c', printCapabilities]), { capabilities: sets })), 'unknowncap']);
  t.equal(result.status, 0, `create and run succeed: ${result.stderr}`);
  t.match(result.stderr, /level=warning msg="config\.json: \/process\/capabilities\/bounding\/2: unknown capability \\"CAP_UNKNOWN\\", left out"/);
  t.match(result.stderr, /\/process\/capabilities\/effective\/0: unknown capability \\"CAP_NOPE\\", left out/);
  const seen = fields(result.stdout);
  t.equal(seen['CapBnd'], maskOf(names), 'the known ones are set');
  t.equal(seen['CapEff'], maskOf(names));
  assertNothingLeft(t, sandbox);
});

t.test("the environment as runc hands it over: a variable set twice once, with its last value; an empty HOME from /etc/passwd", async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = withProcess(busyboxConfig(['env']), { env: ['ONE=two', 'HOME=', 'ONE=', 'PATH=/usr/bin:/bin'] });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'envonce']);
  t.equal(result.status, 0, result.stderr);
  t.same(result.stdout.trim().split('\n').sort(), ['HOME=/root', 'ONE=', 'PATH=/usr/bin:/bin'], "ONE once, HOME the rootfs's root home");
  assertNothingLeft(t, sandbox);
});

t.test('a program only its owner may execute runs for another user with CAP_DAC_OVERRIDE, as at execve (runc)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  // Every applet is busybox: in this copy only its owner (root) may execute it.
  fs.chmodSync(fs.realpathSync(path.join(rootfs, 'bin', 'echo')), 0o744);
  const config = (caps: string[]) => withProcess(busyboxConfig(['/bin/echo', 'ran'], { root: { path: rootfs } }), {
    user: { uid: 1000, gid: 100 },
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps },
  });
  const without = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config([])), 'nodac']);
  t.not(without.status, 0, 'without the capability it cannot run');
  const withDac = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config(['CAP_DAC_OVERRIDE'])), 'dac']);
  t.equal(withDac.status, 0, `with CAP_DAC_OVERRIDE it runs: ${withDac.stderr}`);
  t.equal(withDac.stdout, 'ran\n');
  assertNothingLeft(t, sandbox);
});

t.test('the program inherits no fd but stdio', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // ls itself opens the directory it lists: that is the 3.
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(busyboxConfig(['ls', '/proc/self/fd'])), 'fds']);
  t.equal(result.status, 0, result.stderr);
  t.same(result.stdout.trim().split(/\s+/), ['0', '1', '2', '3']);
  assertNothingLeft(t, sandbox);
});

t.test("run exits with the container's exit status", async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await runScript(sandbox, 'echo before; exit 7');
  t.equal(result.status, 7);
  t.equal(result.stdout, 'before\n');
  assertNothingLeft(t, sandbox);
});

t.test('a wrong cwd or program fails create cleanly', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const withArgs = (args: string[], extra = {}) => withProcess(busyboxConfig(args), extra);
  await t.test('a cwd that is a file', (t) =>
    expectCreateFailure(t, sandbox, withArgs(['true'], { cwd: '/etc/passwd' }), /entering cwd \/etc\/passwd: fchdir: ENOTDIR \(not a directory\)/));
  await t.test('a program not in PATH', (t) =>
    expectCreateFailure(t, sandbox, withArgs(['no-such-program', 'x']), /exec: "no-such-program": executable file not found in \$PATH/));
  await t.test('a path that does not exist', (t) =>
    expectCreateFailure(t, sandbox, withArgs(['/bin/no-such-program']), /exec: \/bin\/no-such-program: /));
  await t.test('a file that is not executable', (t) =>
    expectCreateFailure(t, sandbox, withArgs(['/etc/passwd']), /exec: \/etc\/passwd: /));
});
