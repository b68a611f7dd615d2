/** The command line itself: --version, --help on every verb, spec, and the state file format. */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig } from '../lib/harness.js';
import { validateConfig, validateState } from '../../runtime/spec/validate.js';

t.test('--version names tsrunc and the runtime-spec version', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await sandbox.tsrunc(['--version']);
  t.equal(result.status, 0);
  t.match(result.stdout, /^tsrunc version \d+\.\d+\.\d+\ncommit: [0-9a-f]{12}(-dirty)?\nspec: 1\.3\.0\n/);
});

t.test('every verb has --help', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const verb of ['create', 'start', 'state', 'kill', 'delete', 'run', 'list', 'spec']) {
    const result = await sandbox.tsrunc([verb, '--help']);
    t.equal(result.status, 0, `${verb} --help succeeds`);
    t.match(result.stdout, new RegExp(`tsrunc ${verb}`), `${verb} --help shows its usage`);
  }
});

t.test('a verb without its id fails with status 1', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await sandbox.tsrunc(['state']);
  t.equal(result.status, 1);
  t.match(result.stderr, /Not enough non-option arguments/);
});

t.test('spec writes a config.json that validates, and never overwrites one', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const bundle = path.join(sandbox.dir, 'spec-bundle');
  fs.mkdirSync(bundle);
  t.equal((await sandbox.tsrunc(['spec', '--bundle', bundle])).status, 0);
  const config = validateConfig(JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')));
  t.same(config.process?.args, ['sh']);
  t.equal(config.root?.path, 'rootfs');
  const again = await sandbox.tsrunc(['spec', '--bundle', bundle]);
  t.equal(again.status, 1);
  t.match(again.stderr, /config\.json exists\. Remove it first\./);
});

t.test('state.json is valid against the state schema and holds the config', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = busyboxConfig(['true']);
  const bundle = sandbox.bundle(config);
  t.equal((await sandbox.create('schema', bundle)).status, 0);
  const stored = validateState(JSON.parse(fs.readFileSync(path.join(sandbox.root, 'schema', 'state.json'), 'utf8')));
  t.equal(stored.id, 'schema');
  t.equal(stored.bundle, bundle);
  t.same(stored.config.process?.args, ['true']);
  t.ok(stored.initStartTime > 0, 'the init start time is recorded');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'schema'])).status, 0);
});
