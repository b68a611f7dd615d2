/** A capability left out of the config is really gone: root without CAP_CHOWN cannot chown. */
import t from 'tap';
import { Sandbox, busyboxConfig, type JsonObject } from '../lib/harness.js';

function chownConfig(caps: string[]): JsonObject {
  const sets = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: [] };
  const config = busyboxConfig(['sh', '-c', 'touch /tmp/f && chown 1:1 /tmp/f && echo chowned'], {});
  (config['process'] as JsonObject)['capabilities'] = sets;
  (config['mounts'] as JsonObject[]).push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs' });
  return config;
}

t.test('chown needs CAP_CHOWN, even for uid 0', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const without = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(chownConfig(['CAP_KILL'])), 'nochown']);
  t.not(without.status, 0, 'chown fails without CAP_CHOWN');
  t.match(without.stderr, /Operation not permitted/);
  t.notMatch(without.stdout, /chowned/);
  const withCap = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(chownConfig(['CAP_KILL', 'CAP_CHOWN'])), 'chown']);
  t.equal(withCap.status, 0, withCap.stderr);
  t.equal(withCap.stdout, 'chowned\n', 'and works with it');
  t.same(sandbox.leftovers(), []);
});
