/**
 * Bad input gets one clear error naming what is wrong, exit status 1, and leaves nothing
 * behind: no state directory, no init process, no mount.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, mountsUnder, type JsonObject } from '../lib/harness.js';

interface BadCase {
  name: string;
  config: JsonObject | string | undefined;
  expected: RegExp;
  id?: string;
}

const base = busyboxConfig(['true']);
const withProcess = (process: JsonObject): JsonObject => ({ ...base, process: { ...(base['process'] as JsonObject), ...process } });

const cases: BadCase[] = [
  { name: 'no config.json', config: undefined, expected: /^tsrunc: config\.json: cannot read \/.*\/config\.json: no such file or directory$/ },
  { name: 'config.json that is not JSON', config: '{"ociVersion": ', expected: /^tsrunc: config\.json: invalid JSON/ },
  { name: 'a wrong type at a nested path', config: withProcess({ args: 'true' }), expected: /^tsrunc: config\.json: \/process\/args: must be array$/ },
  { name: 'an unsupported ociVersion', config: { ...base, ociVersion: '2.0.0' }, expected: /config\.json: \/ociVersion: unsupported version "2\.0\.0"/ },
  { name: 'a missing rootfs', config: { ...base, root: { path: 'no-such-rootfs' } }, expected: /rootfs: \/.*\/no-such-rootfs: no such directory/ },
  {
    name: 'a bind mount whose source is missing',
    config: { ...base, mounts: [{ destination: '/data', type: 'bind', source: '/no/such/source', options: ['rbind'] }] },
    expected: /mount 0 \(bind \/no\/such\/source on \/data\): source \/no\/such\/source does not exist/,
  },
  { name: 'args[0] not found', config: withProcess({ args: ['no-such-program'] }), expected: /"no-such-program": executable file not found in \$PATH/ },
  { name: 'a cwd that is a file', config: withProcess({ cwd: '/bin/busybox' }), expected: /entering cwd \/bin\/busybox: fchdir: ENOTDIR \(not a directory\)/ },
  {
    name: 'a user namespace without id mappings',
    config: { ...base, linux: { namespaces: [{ type: 'mount' }, { type: 'user' }] } },
    expected: /config\.json: \/linux\/uidMappings: a new user namespace needs uidMappings/,
  },
  {
    name: 'time offsets without a time namespace',
    config: { ...base, linux: { namespaces: [{ type: 'mount' }], timeOffsets: { monotonic: { secs: 10, nanosecs: 0 } } } },
    expected: /config\.json: \/linux\/timeOffsets: offsets need a new time namespace/,
  },
  {
    name: 'an offset for a clock a time namespace does not have',
    config: { ...base, linux: { namespaces: [{ type: 'mount' }, { type: 'time' }], timeOffsets: { realtime: { secs: 10 } } } },
    expected: /config\.json: \/linux\/timeOffsets\/realtime: unknown clock "realtime"/,
  },
  { name: 'an id with a slash', config: base, id: 'a/b', expected: /invalid container id format: "a\/b"/ },
  { name: 'the id ".."', config: base, id: '..', expected: /invalid container id format: "\.\."/ },
];

for (const badCase of cases) {
  t.test(`create with ${badCase.name} fails cleanly`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const bundle = badCase.config === undefined ? path.join(sandbox.dir, 'empty-bundle') : sandbox.bundle(badCase.config);
    fs.mkdirSync(bundle, { recursive: true });
    const result = await sandbox.tsrunc(['create', '--bundle', bundle, badCase.id ?? 'bad']);
    t.equal(result.status, 1, 'exit status 1');
    t.match(result.stderr.trim(), badCase.expected, 'the error names what is wrong');
    t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    t.same(sandbox.leftovers(), [], 'no state directory');
    t.same(sandbox.processes(), [], 'no init process');
    t.same(mountsUnder(sandbox.dir), [], 'no mount');
  });
}

t.test('several schema errors are reported together, one line each', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle({ ...withProcess({ args: 'true', cwd: 5 }), hostname: 7 });
  const result = await sandbox.tsrunc(['create', '--bundle', bundle, 'multi']);
  t.equal(result.status, 1);
  const lines = result.stderr.trim().split('\n');
  t.ok(lines.some((l) => /config\.json: \/process\/args: must be array/.test(l)));
  t.ok(lines.some((l) => /config\.json: \/process\/cwd: must be string/.test(l)));
  t.ok(lines.some((l) => /config\.json: \/hostname: must be string/.test(l)));
  t.same(sandbox.leftovers(), []);
});

t.test('--log-format json puts the error in the log as a JSON line', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const log = path.join(sandbox.dir, 'log.json');
  const result = await sandbox.tsrunc(['--log', log, '--log-format', 'json', 'state', 'nobody']);
  t.equal(result.status, 1);
  const entries = fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
  const last = entries[entries.length - 1]!;
  t.equal(last['level'], 'error');
  t.equal(last['msg'], 'container nobody does not exist');
  t.ok(!Number.isNaN(Date.parse(last['time'] ?? '')), 'the entry has a time');
  t.match(result.stderr, /container nobody does not exist/, 'the error is on stderr too');
});

t.test('unknown properties in config.json are ignored, as the spec requires', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = sandbox.bundle({ ...busyboxConfig(['echo', 'fine']), futureField: { x: 1 } });
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'extra']);
  t.equal(result.status, 0);
  t.equal(result.stdout, 'fine\n');
});
