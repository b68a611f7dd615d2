/**
 * Idmapped bind mounts (mount options idmap/ridmap with the mount's uidMappings/gidMappings,
 * or the container's): ownership as the container sees it, writes through the mapping, the
 * host's view unchanged, and the errors for mounts that cannot be idmapped.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, fields, scriptConfig } from '../lib/container-helpers.js';

const toContainerRoot = [{ containerID: 0, hostID: 100000, size: 65536 }];
const userns = {
  namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
  uidMappings: toContainerRoot,
  gidMappings: toContainerRoot,
};
const script = 'echo "owner=$(stat -c %u:%g /home/f)"; if echo inside >> /home/f; then echo write=yes; else echo write=no; fi';

/** A host directory owned by host root, holding a root-owned 0644 file, mounted at /home (which the rootfs has). */
function hostData(sandbox: Sandbox): { dir: string; file: string } {
  fs.chmodSync(sandbox.dir, 0o755);
  const dir = path.join(sandbox.dir, `data-${Math.random().toString(16).slice(2)}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'host\n');
  fs.chmodSync(file, 0o644);
  return { dir, file };
}

function config(mount: JsonObject, linux: JsonObject): JsonObject {
  const base = scriptConfig(script);
  return {
    ...base,
    mounts: [...(base['mounts'] as JsonObject[]), { destination: '/home', type: 'bind', ...mount }],
    linux,
  };
}

t.test('idmap: host root\'s files are the container root\'s, and it writes them as host root', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const option of ['idmap', 'ridmap']) {
    const data = hostData(sandbox);
    const mount = { source: data.dir, options: ['rbind', option], uidMappings: toContainerRoot, gidMappings: toContainerRoot };
    const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config(mount, userns)), `idm-${option}`]);
    t.equal(result.status, 0, result.stderr);
    const seen = fields(result.stdout);
    t.equal(seen['owner'], '0:0', `${option}: owned by root inside`);
    t.equal(seen['write'], 'yes', `${option}: container root may write the 0644 file`);
    t.equal(fs.readFileSync(data.file, 'utf8'), 'host\ninside\n', `${option}: the write reached the host file`);
    t.equal(fs.statSync(data.file).uid, 0, `${option}: still owned by host root on the host`);
  }

  // The same mount without idmap: the container root is a stranger to those files.
  const plain = hostData(sandbox);
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config({ source: plain.dir, options: ['rbind'] }, userns)), 'plain']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['owner'], '65534:65534', 'without idmap: the overflow ids');
  t.equal(seen['write'], 'no', 'without idmap: no write');
  t.equal(fs.readFileSync(plain.file, 'utf8'), 'host\n');
  assertNothingLeft(t, sandbox);
});

t.test('idmap without mappings of its own takes the container\'s; mappings alone mean idmap', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const inherited = hostData(sandbox);
  const first = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config({ source: inherited.dir, options: ['rbind', 'idmap'] }, userns)), 'inherit']);
  t.equal(first.status, 0, first.stderr);
  t.equal(fields(first.stdout)['owner'], '0:0', "the container's mappings");

  // No user namespace: files owned by host 0 show as 1000:2000 through the mount.
  const noUserns = { namespaces: [{ type: 'pid' }, { type: 'mount' }] };
  const shifted = hostData(sandbox);
  const mount = {
    source: shifted.dir,
    options: ['rbind'],
    uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: 2000, size: 1 }],
  };
  const second = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config(mount, noUserns)), 'shift']);
  t.equal(second.status, 0, second.stderr);
  t.equal(fields(second.stdout)['owner'], '1000:2000', 'mount mappings alone: an idmapped mount');
  assertNothingLeft(t, sandbox);
});

t.test('mounts that cannot be idmapped: one clear error naming the mount, nothing left', async (t) => {
  const cases: { name: string; mount: JsonObject; linux: JsonObject; expected: RegExp }[] = [
    {
      name: 'not a bind mount',
      mount: { type: 'tmpfs', source: 'tmpfs', options: ['idmap'], uidMappings: toContainerRoot, gidMappings: toContainerRoot },
      linux: userns,
      expected: /^tsrunc: config\.json: \/mounts\/2\/options: idmap and ridmap \(and mount uidMappings\) need a bind mount/,
    },
    {
      name: 'no mappings anywhere',
      mount: { source: '/tmp', options: ['rbind', 'idmap'] },
      linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
      expected: /^tsrunc: config\.json: \/mounts\/2: an idmapped mount needs uidMappings and gidMappings/,
    },
    {
      name: 'overlapping mount mappings',
      mount: { source: '/tmp', options: ['rbind', 'idmap'], uidMappings: [...toContainerRoot, { containerID: 10, hostID: 500000, size: 1 }], gidMappings: toContainerRoot },
      linux: userns,
      expected: /^tsrunc: config\.json: \/mounts\/2\/uidMappings\/1: container uids overlap those of \/mounts\/2\/uidMappings\/0/,
    },
  ];
  for (const c of cases) {
    const sandbox = new Sandbox();
    const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config(c.mount, c.linux)), 'bad']);
    t.equal(result.status, 1, `${c.name}: exit status 1`);
    t.match(result.stderr, c.expected, c.name);
    t.equal(result.stderr.trim().split('\n').length, 1, `${c.name}: one line`);
    assertNothingLeft(t, sandbox);
    await sandbox.cleanup();
  }
});
