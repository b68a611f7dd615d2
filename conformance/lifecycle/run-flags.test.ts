/**
 * `run`'s own flags, as in runc: --keep leaves the stopped container for inspection, and
 * tsrunc is the subreaper of processes the container orphans unless --no-subreaper.
 */
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, fields, scriptConfig } from '../lib/container-helpers.js';

t.test('run --keep: the exited container stays, stopped, until delete', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await sandbox.tsrunc(['run', '--keep', '--bundle', sandbox.bundle(scriptConfig('exit 6')), 'kept']);
  t.equal(result.status, 6, `the process's status: ${result.stderr}`);
  const state = await sandbox.tsrunc(['state', 'kept']);
  t.equal(state.status, 0, 'state still answers');
  t.match(JSON.parse(state.stdout || '{}'), { id: 'kept', status: 'stopped', pid: 0 });
  t.same(sandbox.leftovers(), ['kept'], 'the state directory is kept');
  t.equal((await sandbox.tsrunc(['delete', 'kept'])).status, 0, 'a plain delete removes it');
  assertNothingLeft(t, sandbox);

  const plain = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(scriptConfig('exit 6')), 'gone']);
  t.equal(plain.status, 6);
  t.same(sandbox.leftovers(), [], 'without --keep the container is deleted');
});

t.test('run is the subreaper of orphans (no PID namespace here); --no-subreaper leaves them to the host', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // The inner sh's parent (the subshell) exits at once, so it is orphaned and reparented; its
  // parent is read from /proc after that ($PPID is fixed when sh starts, maybe before).
  const script = '( sh -c "sleep 0.5; read a b c ppid rest < /proc/\\$\\$/stat; echo parent=\\$(tr \\"\\\\0\\" \\" \\" < /proc/\\$ppid/cmdline)" & ); sleep 2';
  const withoutPidNs = (namespaces: { type: string }[]) => namespaces.filter((ns) => ns.type !== 'pid');
  const config = (() => {
    const base = scriptConfig(script);
    const linux = base['linux'] as { namespaces: { type: string }[] };
    return { ...base, linux: { ...linux, namespaces: withoutPidNs(linux.namespaces) } };
  })();
  const reaped = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'sub1']);
  t.equal(reaped.status, 0, reaped.stderr);
  t.match(fields(reaped.stdout)['parent'], /tsrunc.* run /, 'the orphan went to tsrunc run');
  const notReaped = await sandbox.tsrunc(['run', '--no-subreaper', '--bundle', sandbox.bundle(config), 'sub2']);
  t.equal(notReaped.status, 0, notReaped.stderr);
  t.notMatch(fields(notReaped.stdout)['parent'] ?? '', /tsrunc.* run /, 'with --no-subreaper it did not');
  assertNothingLeft(t, sandbox);
});
