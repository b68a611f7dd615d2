/**
 * The native stage's open-in-root on its own, without a container: paths resolved inside a
 * directory by openat2(RESOLVE_IN_ROOT), created where missing through dangling symlinks, magic
 * links refused, and every path that differs from the one asked for shown to tsrunc first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import type { CreateKind } from '../../runtime/plan/ops.js';
import { landing } from '../lib/stage.js';

function makeTree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-inroot-'));
  fs.mkdirSync(path.join(root, 'etc'));
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
  const link = (target: string, at: string) => fs.symlinkSync(target, path.join(root, at));
  link('/', 'evil');
  link('/etc', 'abs-etc');
  link('../../../../../../tmp', 'up'); // dangling: there is no /tmp in the tree
  link('../../../../../../../..', 'a/b/way-up');
  link('../etc', 'a/rel-etc');
  link('abs-etc', 'chain');
  link('/hop/x', 'dangle'); // a dangling chain
  link('../../new-dir', 'hop');
  link('loop2', 'loop1');
  link('loop1', 'loop2');
  link('/etc/passwd', 'to-file');
  return root;
}

t.test('open-in-root', async (t) => {
  const root = makeTree();
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));

  const existing: [string, string][] = [
    ['/', '/'],
    ['/etc/passwd', '/etc/passwd'],
    ['/evil', '/'],
    ['/evil/etc/passwd', '/etc/passwd'],
    ['/evil/evil/evil/etc', '/etc'],
    ['/abs-etc/passwd', '/etc/passwd'],
    ['/a/b/way-up/etc', '/etc'],
    ['/a/rel-etc/passwd', '/etc/passwd'],
    ['/chain/passwd', '/etc/passwd'],
    ['/../../../etc', '/etc'],
    ['/to-file', '/etc/passwd'],
  ];
  for (const [p, expected] of existing) t.equal(await landing(root, p), expected, `${p} -> ${expected}`);

  const created: [string, CreateKind, string][] = [
    ['/not/there/yet', 'directory', '/not/there/yet'],
    ['/up/xyz', 'directory', '/tmp/xyz'],
    ['/evil/made-through-evil/deep', 'directory', '/made-through-evil/deep'],
    ['/a/b/way-up/top', 'directory', '/top'],
    ['/dangle/file', 'file', '/new-dir/x/file'],
    ['/abs-etc/new-file', 'file', '/etc/new-file'],
  ];
  for (const [p, kind, expected] of created) {
    t.equal(await landing(root, p, kind), expected, `${p} is made at ${expected}`);
    const made = fs.lstatSync(path.join(root, expected));
    t.ok(kind === 'directory' ? made.isDirectory() : made.isFile(), `as a ${kind}`);
  }
  t.equal(await landing(root, '/up/xyz', 'directory'), '/tmp/xyz', 'opening it again finds it');

  await t.rejects(landing(root, '/missing'), { message: 'test: /missing does not exist in the rootfs' }, 'nothing is made without create');
  t.notOk(fs.existsSync(path.join(root, 'missing')));
  await t.rejects(landing(root, '/loop1/x', 'directory'), { message: /ELOOP|too many levels of symbolic links/ });
  await t.rejects(landing(root, '/etc/passwd/x', 'directory'), { message: /ENOTDIR|EEXIST|not a directory/ });

  const asked: string[] = [];
  const refuse = (resolved: string) => {
    asked.push(resolved);
    return !resolved.startsWith('/forbidden');
  };
  fs.symlinkSync('/forbidden/deeper', path.join(root, 'to-forbidden'));
  await t.rejects(landing(root, '/to-forbidden/x', 'directory', refuse), { message: /^refused \/forbidden/ });
  t.notOk(fs.existsSync(path.join(root, 'forbidden')), 'tsrunc is asked before anything is made');
  t.ok(asked.length > 0);
  t.same(fs.readdirSync(root).filter((e) => !['etc', 'a', 'evil', 'abs-etc', 'up', 'chain', 'dangle', 'hop', 'loop1', 'loop2', 'to-file', 'not', 'tmp', 'made-through-evil', 'top', 'new-dir', 'to-forbidden'].includes(e)), [],
    'nothing else appeared in the root');
});

t.test('magic links are not followed', async (t) => {
  const root = makeTree();
  fs.mkdirSync(path.join(root, 'proc'));
  execFileSync('mount', ['--bind', '/proc', path.join(root, 'proc')]);
  t.teardown(() => {
    execFileSync('umount', [path.join(root, 'proc')]);
    fs.rmSync(root, { recursive: true, force: true });
  });
  // /proc/self/root is the host's root: a magic link, refused by RESOLVE_NO_MAGICLINKS.
  await t.rejects(landing(root, '/proc/self/root/etc'), { message: /ELOOP/ });
  await t.rejects(landing(root, '/proc/self/cwd'), { message: /ELOOP/ });
  t.equal((await landing(root, '/proc/self/status')).startsWith('/proc/'), true, 'a plain file of /proc resolves');
});
