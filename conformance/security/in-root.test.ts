/**
 * RootDir (runtime/linux/paths.ts) on its own, without a container: paths resolved inside a
 * directory by openat2(RESOLVE_IN_ROOT), created where missing through dangling symlinks, and
 * the same results from the lexical fallback used where openat2 is missing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { RootDir, hasOpenat2, simulateMissingOpenat2, type CreateKind } from '../../runtime/linux/paths.js';
import * as libc from '../../runtime/linux/libc.js';

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

/** Opens `p` in `root` and tells where it landed (the "/"-rooted path), closing the fd. */
function landing(dir: RootDir, p: string, create?: CreateKind): string {
  const fd = dir.open(p, { create, context: 'test' });
  try {
    return dir.containerPathOf(fd, 'test');
  } finally {
    libc.close(fd);
  }
}

for (const mode of ['openat2', 'lexical fallback']) {
  t.test(`RootDir with ${mode}`, async (t) => {
    simulateMissingOpenat2(mode !== 'openat2');
    t.teardown(() => simulateMissingOpenat2(false));
    t.equal(hasOpenat2(), mode === 'openat2', mode === 'openat2' ? 'this kernel has openat2' : 'openat2 reported missing');
    const root = makeTree();
    const dir = new RootDir(root);
    t.teardown(() => {
      dir.close();
      fs.rmSync(root, { recursive: true, force: true });
    });

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
    for (const [p, expected] of existing) t.equal(landing(dir, p), expected, `${p} -> ${expected}`);

    const created: [string, CreateKind, string][] = [
      ['/not/there/yet', 'directory', '/not/there/yet'],
      ['/up/xyz', 'directory', '/tmp/xyz'],
      ['/evil/made-through-evil/deep', 'directory', '/made-through-evil/deep'],
      ['/a/b/way-up/top', 'directory', '/top'],
      ['/dangle/file', 'file', '/new-dir/x/file'],
      ['/abs-etc/new-file', 'file', '/etc/new-file'],
    ];
    for (const [p, kind, expected] of created) {
      t.equal(landing(dir, p, kind), expected, `${p} is made at ${expected}`);
      const made = fs.lstatSync(path.join(root, expected));
      t.ok(kind === 'directory' ? made.isDirectory() : made.isFile(), `as a ${kind}`);
    }
    t.equal(landing(dir, '/up/xyz', 'directory'), '/tmp/xyz', 'opening it again finds it');

    t.throws(() => landing(dir, '/missing'), { message: 'test: /missing does not exist in the rootfs' }, 'nothing is made without create');
    t.notOk(fs.existsSync(path.join(root, 'missing')));
    t.throws(() => landing(dir, '/loop1/x', 'directory'), { message: /ELOOP|too many levels of symbolic links/ });
    t.throws(() => landing(dir, '/etc/passwd/x', 'directory'), { message: /ENOTDIR|EEXIST|not a directory/ });

    const checked: string[] = [];
    const refuse = (resolved: string) => {
      checked.push(resolved);
      if (resolved.startsWith('/forbidden')) throw new Error(`refused ${resolved}`);
    };
    fs.symlinkSync('/forbidden/deeper', path.join(root, 'to-forbidden'));
    t.throws(() => dir.open('/to-forbidden/x', { create: 'directory', check: refuse, context: 'test' }), { message: /^refused \/forbidden/ });
    t.notOk(fs.existsSync(path.join(root, 'forbidden')), 'the check runs before anything is made');
    t.ok(checked.length > 0);
    t.same(fs.readdirSync(root).filter((e) => !['etc', 'a', 'evil', 'abs-etc', 'up', 'chain', 'dangle', 'hop', 'loop1', 'loop2', 'to-file', 'not', 'tmp', 'made-through-evil', 'top', 'new-dir', 'to-forbidden'].includes(e)), [],
      'nothing else appeared in the root');
  });
}

t.test('magic links are not followed', { skip: !hasOpenat2() && 'no openat2' }, async (t) => {
  const root = makeTree();
  fs.mkdirSync(path.join(root, 'proc'));
  execFileSync('mount', ['--bind', '/proc', path.join(root, 'proc')]);
  const dir = new RootDir(root);
  t.teardown(() => {
    dir.close();
    execFileSync('umount', [path.join(root, 'proc')]);
    fs.rmSync(root, { recursive: true, force: true });
  });
  // /proc/self/root is the host's root: a magic link, refused by RESOLVE_NO_MAGICLINKS.
  t.throws(() => landing(dir, '/proc/self/root/etc'), { message: /ELOOP/ });
  t.throws(() => landing(dir, '/proc/self/cwd'), { message: /ELOOP/ });
  t.equal(landing(dir, '/proc/self/status').startsWith('/proc/'), true, 'a plain file of /proc resolves');
});
