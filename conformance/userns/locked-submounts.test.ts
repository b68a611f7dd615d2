/**
 * A mount hides what is beneath it. In a user namespace, the container's root must not be
 * able to unmount a host submount inside an rbind source and look underneath: the kernel
 * locks mounts it copies into a less privileged namespace, so tsrunc makes such rbinds in the
 * init (by path) rather than from a detached tree, which the kernel would not lock.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Sandbox, type JsonObject } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, fields, scriptConfig } from '../lib/container-helpers.js';
import { hasSubmounts } from '../../runtime/linux/user-namespace-mounts.js';

const userns = {
  namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }, { type: 'user' }],
  uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
};

t.test('hasSubmounts reads mountinfo: below the source counts, the source itself does not', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-submounts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const line = (mountPoint: string) => `36 35 98:0 / ${mountPoint} rw,noatime master:1 - ext3 /dev/root rw`;
  t.equal(hasSubmounts(dir, [line('/'), line(dir)].join('\n')), false, 'a mount on the source itself');
  t.equal(hasSubmounts(dir, line(`${dir}/a`)), true, 'a mount below it');
  t.equal(hasSubmounts(dir, line(`${dir}x/a`)), false, 'a sibling with the same prefix');
  t.equal(hasSubmounts(`${dir}/with space`, line(`${dir}/with space/x`.replace(/ /g, '\\040'))) , false, 'a missing source');
  fs.mkdirSync(path.join(dir, 'with space'));
  t.equal(hasSubmounts(`${dir}/with space`, line(`${dir}/with\\040space/x`)), true, 'octal escapes decoded');
});

t.test('user namespace + rbind of a source with a submount: the submount stays locked', async (t) => {
  const sandbox = new Sandbox();
  // The path fallback needs a source the mapped root can reach: a 0755 directory.
  const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-locked-'));
  fs.chmodSync(outer, 0o755);
  const source = path.join(outer, 'src');
  fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(source, 'sub', 'hidden'), 'under the mount\n');
  execFileSync('mount', ['-t', 'tmpfs', 'over', path.join(source, 'sub')]);
  fs.writeFileSync(path.join(source, 'sub', 'visible'), 'on the mount\n');
  t.teardown(async () => {
    execFileSync('umount', [path.join(source, 'sub')]);
    fs.rmSync(outer, { recursive: true, force: true });
    await sandbox.cleanup();
  });
  const base = scriptConfig([
    'echo "visible=$(cat /home/sub/visible)"',
    'umount /home/sub 2>/dev/null && echo unmounted=yes || echo unmounted=no',
    'echo "listing=$(ls /home/sub | tr "\\n" " ")"',
  ].join('; '));
  const config: JsonObject = {
    ...base,
    root: { path: copyRootfs(sandbox) },
    mounts: [...(base['mounts'] as JsonObject[]), { destination: '/home', type: 'bind', source, options: ['rbind'] }],
    linux: userns,
  };
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'locked1']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['visible'], 'on the mount', 'the submount came along (rbind)');
  t.equal(seen['unmounted'], 'no', "the container's root cannot unmount it");
  t.notMatch(seen['listing'] ?? '', /hidden/, 'what it hides stays hidden');
  assertNothingLeft(t, sandbox);
});
