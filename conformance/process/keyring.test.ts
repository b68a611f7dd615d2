/**
 * The container gets a session keyring of its own, as with runc: the caller's session keys
 * stay out of its reach. --no-new-keyring keeps the caller's, as runc's flag does.
 */
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, runScript } from '../lib/container-helpers.js';

// /proc/keys lists the keys the reader may view, its session keyring among them.
const script = 'echo "keyrings=$(grep -o \' keyring  *[^:]*\' /proc/keys | awk \'{print $2}\' | tr "\\n" " ")"';

function keyrings(stdout: string): string[] {
  return (/keyrings=(.*)/.exec(stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

t.test('a new session keyring named _ses.<id>; --no-new-keyring keeps the caller\'s', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const own = await runScript(sandbox, script);
  t.equal(own.status, 0, own.stderr);
  const ownRings = keyrings(own.stdout);
  t.ok(ownRings.some((name) => /^_ses\.c\d+$/.test(name)), `the container's own keyring is there: ${ownRings.join(' ')}`);

  const kept = await runScript(sandbox, script, { flags: ['--no-new-keyring'] });
  t.equal(kept.status, 0, kept.stderr);
  t.notOk(keyrings(kept.stdout).some((name) => name.startsWith('_ses.c')), `with --no-new-keyring there is none: ${keyrings(kept.stdout).join(' ')}`);
  assertNothingLeft(t, sandbox);
});

t.test('a user namespace container gets its own keyring too', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await runScript(sandbox, script, {
    overrides: {
      linux: {
        namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    },
  });
  t.equal(result.status, 0, result.stderr);
  t.ok(keyrings(result.stdout).some((name) => name.startsWith('_ses.c')), `the container's own keyring: ${keyrings(result.stdout).join(' ')}`);
  assertNothingLeft(t, sandbox);
});
