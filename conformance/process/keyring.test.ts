/**
 * The container gets a session keyring of its own, as with runc: the caller's session keys
 * stay out of its reach. --no-new-keyring keeps the caller's, as runc's flag does.
 */
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, runScript, scriptConfig } from '../lib/container-helpers.js';

// /proc/keys lists the keys the reader may view, its session keyring among them.
const script = 'echo "keyrings=$(grep -o \' keyring  *[^:]*\' /proc/keys | awk \'{print $2}\' | tr "\\n" " ")"';

function keyrings(stdout: string): string[] {
  return (/keyrings=(.*)/.exec(stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

t.test('a new session keyring named _ses.<id>; --no-new-keyring keeps the caller\'s', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // Ids no other test uses: root in a container sees every root-owned keyring on the host,
  // other tests' containers' among them.
  const id = `keyring-${process.pid}`;
  const run = (flags: string[], name: string) => sandbox.tsrunc(['run', ...flags, '--bundle', sandbox.bundle(scriptConfig(script)), name]);
  const own = await run([], id);
  t.equal(own.status, 0, own.stderr);
  const ownRings = keyrings(own.stdout);
  t.ok(ownRings.includes(`_ses.${id}`), `the container's own keyring is there: ${ownRings.join(' ')}`);

  const kept = await run(['--no-new-keyring'], `${id}-kept`);
  t.equal(kept.status, 0, kept.stderr);
  t.notOk(keyrings(kept.stdout).includes(`_ses.${id}-kept`), `with --no-new-keyring there is none: ${keyrings(kept.stdout).join(' ')}`);
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
