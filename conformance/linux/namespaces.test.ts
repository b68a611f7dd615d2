/**
 * Namespaces as the container sees them: new ones are really new (PID 1, own hostname, only
 * `lo`), joined ones are really shared, and a path of the wrong kind is refused cleanly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { Sandbox, busyboxConfig, waitFor } from '../lib/harness.js';
import { assertNothingLeft, expectCreateFailure, fields, runScript } from '../lib/container-helpers.js';

const kinds = ['pid', 'net', 'mnt', 'ipc', 'uts', 'cgroup'] as const;

t.test('a container in new namespaces: PID 1, its own hostname and domainname, only lo', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    'echo pid=$$',
    'echo hostname=$(uname -n)',
    'echo domainname=$(cat /proc/sys/kernel/domainname)',
    // Interface names are the lines after the two header lines of /proc/net/dev.
    "tail -n +3 /proc/net/dev | while IFS=: read name rest; do echo iface=$(echo $name); done",
    ...kinds.map((kind) => `echo ns.${kind}=$(readlink /proc/self/ns/${kind})`),
  ].join('\n');
  const result = await runScript(sandbox, script, {
    overrides: {
      hostname: 'tsrunc-ns-test',
      domainname: 'example.test',
      linux: { namespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup'].map((type) => ({ type })) },
    },
  });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['pid'], '1', 'the process is PID 1');
  t.equal(seen['hostname'], 'tsrunc-ns-test');
  t.equal(seen['domainname'], 'example.test');
  t.equal(seen['iface'], 'lo', 'a new network namespace has only lo');
  for (const kind of kinds) {
    const host = fs.readlinkSync(`/proc/self/ns/${kind}`);
    t.match(seen[`ns.${kind}`], new RegExp(`^${kind}:\\[\\d+\\]$`), `${kind} link read inside`);
    t.not(seen[`ns.${kind}`], host, `${kind} namespace differs from the host's`);
  }
  t.not(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'tsrunc-ns-test', "the host's hostname is unchanged");
  assertNothingLeft(t, sandbox);
});

t.test('a namespace left out of the config is the host one', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = kinds.map((kind) => `echo ns.${kind}=$(readlink /proc/self/ns/${kind})`).join('\n');
  // Only pid and mount are new: the rest must be inherited from the runtime.
  const result = await runScript(sandbox, script, { overrides: { linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] } } });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  for (const kind of kinds) {
    const host = fs.readlinkSync(`/proc/self/ns/${kind}`);
    if (kind === 'pid' || kind === 'mnt') t.not(seen[`ns.${kind}`], host, `${kind} is new`);
    else t.equal(seen[`ns.${kind}`], host, `${kind} is the host's`);
  }
  assertNothingLeft(t, sandbox);
});

t.test('joining the network namespace of a running container by path', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const holder = sandbox.bundle(busyboxConfig(['sleep', '60']));
  t.equal((await sandbox.create('holder', holder)).status, 0, sandbox.output('holder'));
  t.equal((await sandbox.tsrunc(['start', 'holder'])).status, 0);
  const { pid } = JSON.parse((await sandbox.tsrunc(['state', 'holder'])).stdout) as { pid: number };
  t.ok(await waitFor(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep')), 'the holder runs sleep');
  const holderNet = fs.readlinkSync(`/proc/${pid}/ns/net`);
  const holderUts = fs.readlinkSync(`/proc/${pid}/ns/uts`);
  t.not(holderNet, fs.readlinkSync('/proc/self/ns/net'), 'the holder has its own network namespace');

  const result = await runScript(sandbox, 'echo net=$(readlink /proc/self/ns/net); echo uts=$(readlink /proc/self/ns/uts)', {
    overrides: {
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'network', path: `/proc/${pid}/ns/net` }] },
    },
  });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['net'], holderNet, 'the second container is in the holder network namespace');
  t.not(seen['uts'], holderUts, 'while its uts namespace, not joined, is its own');

  t.equal((await sandbox.tsrunc(['delete', '--force', 'holder'])).status, 0);
  assertNothingLeft(t, sandbox);
});

t.test('a namespace path of the wrong kind or missing is refused before anything runs', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const namespacesWith = (network: { path: string }) => ({
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', ...network }] },
  });
  await t.test('a uts namespace given as network', async (t) => {
    await expectCreateFailure(
      t,
      sandbox,
      busyboxConfig(['true'], namespacesWith({ path: `/proc/${process.pid}/ns/uts` })),
      new RegExp(`namespace network: /proc/${process.pid}/ns/uts is not a network namespace \\(it is uts:\\[\\d+\\]\\)`),
    );
  });
  await t.test('a path that does not exist', async (t) => {
    const missing = `${sandbox.dir}/no-such-ns`;
    await expectCreateFailure(t, sandbox, busyboxConfig(['true'], namespacesWith({ path: missing })), new RegExp(`namespace network: cannot open ${missing}: ENOENT`));
  });
  await t.test('a regular file', async (t) => {
    const file = `${sandbox.dir}/not-a-ns`;
    fs.writeFileSync(file, '');
    await expectCreateFailure(t, sandbox, busyboxConfig(['true'], namespacesWith({ path: file })), new RegExp(`namespace network: ${file} is not a network namespace`));
  });
});

t.test('a network namespace given as a bind-mounted file (ip netns add, as CNI and netavark make them) is joined', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = `tsrunc-test-${path.basename(sandbox.dir).replace(/[^\w-]/g, '')}`;
  execFileSync('ip', ['netns', 'add', name]);
  t.teardown(() => execFileSync('ip', ['netns', 'del', name]));
  const file = `/run/netns/${name}`;
  const inode = fs.statSync(file).ino;
  const config = busyboxConfig(['sh', '-c', 'echo net=$(readlink /proc/self/ns/net)'], {
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: file }] },
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'netns']);
  t.equal(result.status, 0, result.stderr);
  t.equal(fields(result.stdout)['net'], `net:[${inode}]`, 'the container is in that network namespace');
  assertNothingLeft(t, sandbox);
});
