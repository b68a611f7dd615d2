/**
 * tmpcopyup (podman's --tmpfs and --read-only tmpfs mounts, as runc and crun take it): the new
 * tmpfs starts with a copy of what the image had at that path, modes, owners, symlinks and
 * all; writes go to the tmpfs, never to the rootfs.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, type JsonObject } from '../lib/harness.js';
import { copyRootfs, expectCreateFailure, fields } from '../lib/container-helpers.js';

t.test('a tmpfs with tmpcopyup holds the directory it covers', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  const data = path.join(rootfs, 'data');
  fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(data, 'a'), 'from the image\n');
  fs.chmodSync(path.join(data, 'a'), 0o640);
  fs.chownSync(path.join(data, 'a'), 1000, 1001);
  fs.writeFileSync(path.join(data, 'sub', 'b'), 'deeper\n');
  fs.symlinkSync('a', path.join(data, 'link'));
  fs.chmodSync(data, 0o751);
  const script = [
    'echo type=$(stat -f -c %T /data)',
    'echo root=$(stat -c %a /data)',
    'echo a=$(cat /data/a) $(stat -c "%a %u:%g" /data/a)',
    'echo b=$(cat /data/sub/b)',
    'echo link=$(readlink /data/link)',
    'echo new > /data/new && echo write=ok',
  ].join('\n');
  const config: JsonObject = {
    ...busyboxConfig(['sh', '-c', script]),
    root: { path: rootfs },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'tmpcopyup'] },
    ],
  };
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'copyup']);
  t.equal(result.status, 0, result.stderr);
  const report = fields(result.stdout);
  t.equal(report['type'], 'tmpfs');
  t.equal(report['root'], '751', "the tmpfs takes the directory's mode");
  t.equal(report['a'], 'from the image 640 1000:1001', 'a file: its content, mode and owner');
  t.equal(report['b'], 'deeper', 'a subdirectory');
  t.equal(report['link'], 'a', 'a symlink, not followed');
  t.equal(report['write'], 'ok');
  t.notOk(fs.existsSync(path.join(data, 'new')), 'the write went to the tmpfs, not the rootfs');
});

t.test('tmpcopyup on anything but a tmpfs is refused', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = busyboxConfig(['true'], {
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/home', type: 'bind', source: '/tmp', options: ['rbind', 'tmpcopyup'] },
    ],
  });
  await expectCreateFailure(t, sandbox, config, /config\.json: \/mounts\/1\/options: tmpcopyup is for tmpfs mounts only/);
});
