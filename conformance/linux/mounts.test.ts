/**
 * The container's filesystem as a user inside sees it: the config's mounts with their options,
 * a read-only root, the default /dev, masked and read-only paths, --no-pivot; and none of it
 * reaching the host, even through a hostile rootfs.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxRootfs, mountsUnder } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, fields, maskedProcSys, probeCapabilities, procProbe, runScript, scriptConfig } from '../lib/container-helpers.js';

const proc = { destination: '/proc', type: 'proc', source: 'proc' };
const devTmpfs = { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] };
/** Prints the mount options of the mount point $1 (the last one there, as the kernel lists it). */
const mountOptionsOf = 'opts() { awk -v p="$1" \'$2==p {o=$4} END {print o}\' /proc/mounts; }';

t.test('a read-only bind mount with a relative source, and a tmpfs with a mode', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    mountOptionsOf,
    'echo hello=$(cat /home/hello)',
    'touch /home/new 2>/dev/null; echo bind.touch=$?',
    'echo bind.ro=$(opts /home | tr , "\\n" | grep -x ro)',
    'echo tmpfs.mode=$(stat -c %a /var)',
    'echo tmpfs.type=$(stat -f -c %T /var)',
    'echo written > /var/file && echo tmpfs.write=$(cat /var/file)',
  ].join('\n');
  // /home and /var exist in the shared example rootfs: nothing needs creating there.
  const bundle = sandbox.bundle(
    scriptConfig(script, {
      overrides: {
        mounts: [
          proc,
          devTmpfs,
          { destination: '/home', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
          { destination: '/var', type: 'tmpfs', source: 'tmpfs', options: ['mode=1770', 'size=1m'] },
        ],
      },
    }),
  );
  fs.mkdirSync(path.join(bundle, 'data'));
  fs.writeFileSync(path.join(bundle, 'data', 'hello'), 'from the bundle\n');
  // Run from elsewhere: the relative source must be joined to the bundle, not to the cwd.
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'binds'], { cwd: '/' });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['hello'], 'from the bundle', 'the relative source is the bundle directory data/');
  t.not(seen['bind.touch'], '0', 'writing to the read-only bind fails');
  t.equal(seen['bind.ro'], 'ro', 'it is mounted ro');
  t.notOk(fs.existsSync(path.join(bundle, 'data', 'new')), 'nothing was written to the source');
  t.equal(seen['tmpfs.mode'], '1770', 'the tmpfs has the mode= option');
  t.equal(seen['tmpfs.type'], 'tmpfs');
  t.equal(seen['tmpfs.write'], 'written', 'the tmpfs is writable');
  assertNothingLeft(t, sandbox);
});

t.test('root.readonly makes / read-only, and only /', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const probe = `ro-probe-${path.basename(sandbox.dir)}`;
  // Should the root be writable after all, do not leave the probe in the shared rootfs.
  t.teardown(() => fs.rmSync(path.join(busyboxRootfs, probe), { force: true }));
  const script = [
    mountOptionsOf,
    `touch /${probe} 2>/dev/null; echo root.touch=$?`,
    'echo root.ro=$(opts / | tr , "\\n" | grep -x ro)',
    'touch /dev/probe; echo dev.touch=$?',
  ].join('\n');
  const result = await runScript(sandbox, script, { overrides: { root: { path: busyboxRootfs, readonly: true } } });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.not(seen['root.touch'], '0', 'writing to / fails');
  t.equal(seen['root.ro'], 'ro', '/ is mounted ro');
  t.notOk(fs.existsSync(path.join(busyboxRootfs, probe)), 'the rootfs is unchanged');
  t.equal(seen['dev.touch'], '0', 'the /dev tmpfs mounted on it stays writable');
  assertNothingLeft(t, sandbox);
});

t.test('--no-pivot runs the container in its rootfs', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await runScript(sandbox, 'ls -A /; echo pid=$$', { flags: ['--no-pivot'] });
  t.equal(result.status, 0, result.stderr);
  const listed = result.stdout.split('\n').filter((line) => line !== '' && !line.includes('='));
  t.same(listed.sort(), fs.readdirSync(busyboxRootfs).sort(), '/ is the rootfs');
  t.equal(fields(result.stdout)['pid'], '1', 'the program is PID 1');
  assertNothingLeft(t, sandbox);
});

t.test('--no-pivot leaves no fully visible host /proc: unshare -mrpf + mount -t proc is refused, as in runc', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const hostBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => / - (proc|sysfs) /.test(line));
  const mounts = [proc, devTmpfs, { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] }];
  for (const [name, flags, linux] of [
    ['--no-pivot', ['--no-pivot'], {}],
    ['--no-pivot, rootfsPropagation shared', ['--no-pivot'], { rootfsPropagation: 'shared' }],
    ['pivot_root', [], {}],
  ] as const) {
    const result = await runScript(sandbox, procProbe, {
      flags: [...flags],
      overrides: { mounts, linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }], ...maskedProcSys, ...linux } },
      processFields: { capabilities: probeCapabilities },
    });
    t.equal(result.status, 0, `${name}: ${result.stderr}`);
    t.notMatch(result.stdout, /MOUNTED/, `${name}: no new proc mounted`);
    t.match(result.stdout, /mount: permission denied/, `${name}: mount says permission denied`);
    t.not(fields(result.stdout)['probe'], '0', `${name}: the probe fails`);
    t.same(fields(result.stdout)['full']?.split('\n').sort(), ['/proc', '/sys'], `${name}: only the container's own proc and sysfs in mountinfo`);
  }
  // The control: a container whose own /proc is fully visible (nothing masked) lets the probe mount.
  const control = await runScript(sandbox, procProbe, { flags: ['--no-pivot'], processFields: { capabilities: probeCapabilities } });
  t.equal(control.status, 0, control.stderr);
  t.match(control.stdout, /MOUNTED/, 'control: with its own /proc fully visible, the probe mounts one');
  const hostAfter = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => / - (proc|sysfs) /.test(line));
  t.same(hostAfter, hostBefore, "the host's proc and sysfs mounts are untouched");
  assertNothingLeft(t, sandbox);
});

t.test('the default /dev when the config mounts none', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const devices = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
  const links = ['ptmx', 'fd', 'stdin', 'stdout', 'stderr'];
  const script = [
    `for d in ${devices.join(' ')}; do echo dev.$d=$(stat -c '%F %t:%T %a' /dev/$d); done`,
    `for l in ${links.join(' ')}; do echo link.$l=$(readlink /dev/$l); done`,
    'echo dev.fs=$(stat -f -c %T /dev)',
    'echo discarded > /dev/null && echo null.write=ok',
    'echo zero=$(head -c 4 /dev/zero | od -An -tx1 | tr -d " ")',
  ].join('\n');
  const result = await runScript(sandbox, script, { overrides: { mounts: [proc] } });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  // stat prints major:minor in hex; these are all below 10.
  const expected: Record<string, string> = { null: '1:3', zero: '1:5', full: '1:7', random: '1:8', urandom: '1:9', tty: '5:0' };
  for (const device of devices) {
    t.equal(seen[`dev.${device}`], `character special file ${expected[device]} 666`, `/dev/${device}`);
  }
  t.same(
    links.map((link) => seen[`link.${link}`]),
    ['pts/ptmx', '/proc/self/fd', '/proc/self/fd/0', '/proc/self/fd/1', '/proc/self/fd/2'],
    'ptmx, fd, stdin, stdout, stderr links',
  );
  t.equal(seen['dev.fs'], 'tmpfs', '/dev is a tmpfs of its own');
  t.equal(seen['null.write'], 'ok');
  t.equal(seen['zero'], '00000000', '/dev/zero reads zeros');
  t.same(fs.readdirSync(path.join(busyboxRootfs, 'dev')), [], "the rootfs's own /dev is untouched");
  assertNothingLeft(t, sandbox);
});

t.test('a read-only /dev tmpfs gets its nodes and /dev/pts first, then turns read-only (as runc)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const devpts = { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666'] };
  const script = [
    mountOptionsOf,
    'echo dev.ro=$(opts /dev | tr , "\\n" | grep -x ro)',
    'touch /dev/probe 2>/dev/null; echo dev.touch=$?',
    "echo null=$(stat -c '%F %t:%T' /dev/null)",
    'echo discarded > /dev/null && echo null.write=ok',
    'echo pts=$(stat -f -c %T /dev/pts)',
    'echo ptmx=$(readlink /dev/ptmx)',
  ].join('\n');
  const result = await runScript(sandbox, script, { overrides: { mounts: [proc, { ...devTmpfs, options: [...devTmpfs.options, 'ro'] }, devpts] } });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['dev.ro'], 'ro', '/dev is mounted ro in the end');
  t.not(seen['dev.touch'], '0', 'nothing can be made in /dev');
  t.equal(seen['null'], 'character special file 1:3', 'the device nodes were made before');
  t.equal(seen['null.write'], 'ok', 'and work');
  t.equal(seen['pts'], 'devpts', '/dev/pts was mounted below it');
  t.equal(seen['ptmx'], 'pts/ptmx', 'the /dev symlinks are there');
  assertNothingLeft(t, sandbox);
});

t.test("a tmpfs takes its mount point's mode (set-id and sticky bits too) unless its options give one, as runc", async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  for (const dir of ['all-bits', 'private', 'given']) fs.mkdirSync(path.join(rootfs, dir));
  fs.chmodSync(path.join(rootfs, 'all-bits'), 0o7777);
  fs.chmodSync(path.join(rootfs, 'private'), 0o710);
  fs.chmodSync(path.join(rootfs, 'given'), 0o710);
  const tmpfs = (destination: string, options: string[] = []) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', ...options] });
  const script = 'for d in all-bits private given made; do echo $d=$(stat -c %a /$d) $(stat -f -c %T /$d); done';
  const result = await runScript(sandbox, script, {
    overrides: { root: { path: rootfs }, mounts: [proc, devTmpfs, tmpfs('/all-bits'), tmpfs('/private'), tmpfs('/given', ['mode=755']), tmpfs('/made')] },
  });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['all-bits'], '7777 tmpfs', 'every bit of the mount point, setuid, setgid and sticky included');
  t.equal(seen['private'], '710 tmpfs', "the mount point's 0710");
  t.equal(seen['given'], '755 tmpfs', 'mode= in the options wins');
  t.equal(seen['made'], '1777 tmpfs', "a mount point the runtime made: tmpfs's own default");
  assertNothingLeft(t, sandbox);
});

t.test('maskedPaths and readonlyPaths', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  t.ok(fs.readdirSync('/proc/fs').length > 0, '/proc/fs has entries to hide');
  const script = [
    'if [ -e /proc/kcore ]; then echo kcore=$(stat -c %t:%T /proc/kcore); else echo kcore=absent; fi',
    'echo hostname.file=$(stat -c "%F %t:%T" /etc/hostname)',
    'echo hostname.bytes=$(wc -c < /etc/hostname)',
    'echo procfs.entries=$(ls -A /proc/fs | wc -l)',
    'echo procfs.type=$(stat -f -c %T /proc/fs)',
    'echo sys.read=$(cat /proc/sys/kernel/ostype)',
    // Inside its own uts namespace: were /proc/sys writable, this would succeed.
    'echo masked > /proc/sys/kernel/domainname 2>/dev/null; echo sys.write=$?',
    'echo domainname=$(cat /proc/sys/kernel/domainname)',
  ].join('\n');
  const result = await runScript(sandbox, script, {
    overrides: {
      domainname: 'before',
      linux: {
        namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
        maskedPaths: ['/proc/kcore', '/etc/hostname', '/proc/fs', '/no/such/path'],
        readonlyPaths: ['/proc/sys', '/no/such/dir'],
      },
    },
  });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['kcore'], fs.existsSync('/proc/kcore') ? '1:3' : 'absent', '/proc/kcore is /dev/null (when the kernel has one)');
  t.equal(seen['hostname.file'], 'character special file 1:3', 'a masked file is /dev/null');
  t.equal(seen['hostname.bytes'], '0', 'a masked file reads empty');
  t.equal(seen['procfs.entries'], '0', 'a masked directory is empty');
  t.equal(seen['procfs.type'], 'tmpfs', 'it is covered by a tmpfs');
  t.equal(seen['sys.read'], 'Linux', 'a read-only path can still be read');
  t.not(seen['sys.write'], '0', 'writing under a read-only path fails');
  t.equal(seen['domainname'], 'before', 'and changes nothing');
  assertNothingLeft(t, sandbox);
});

t.test('a hostile rootfs cannot point mounts or /dev at the host', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const rootfs = copyRootfs(sandbox);
  const unique = `tsrunc-escape-${path.basename(sandbox.dir)}`;
  const hostPaths = [`/${unique}`, `/tmp/${unique}`, `/tmp/${unique}-dev`];
  // Should a mount escape after all, remove what it made on the host.
  t.teardown(() => hostPaths.forEach((p) => fs.rmSync(p, { recursive: true, force: true })));
  fs.symlinkSync('/', path.join(rootfs, 'evil'));
  fs.symlinkSync(`../../../../../../../tmp/${unique}`, path.join(rootfs, 'escape'));
  fs.rmdirSync(path.join(rootfs, 'dev'));
  fs.symlinkSync(`/tmp/${unique}-dev`, path.join(rootfs, 'dev'));

  const script = [
    `echo through.evil=$(cat /${unique}/hello)`,
    'echo through.escape=$(cat /escape/hello)',
    'echo null=$(stat -c "%t:%T" /dev/null)',
  ].join('\n');
  const bundle = sandbox.bundle(
    scriptConfig(script, {
      overrides: {
        root: { path: rootfs },
        mounts: [
          proc,
          { destination: `/evil/${unique}`, type: 'bind', source: 'data', options: ['rbind', 'ro'] },
          { destination: '/escape', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
        ],
      },
    }),
  );
  fs.mkdirSync(path.join(bundle, 'data'));
  fs.writeFileSync(path.join(bundle, 'data', 'hello'), 'bound\n');
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'hostile']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['through.evil'], 'bound', 'the mount through /evil -> / is visible inside');
  t.equal(seen['through.escape'], 'bound', 'the mount on a ../ symlink is visible inside');
  t.equal(seen['null'], '1:3', '/dev through a symlink works');
  for (const hostPath of hostPaths) t.notOk(fs.existsSync(hostPath), `${hostPath} was not made on the host`);
  t.ok(fs.statSync(path.join(rootfs, unique)).isDirectory(), 'the /evil mount point landed inside the rootfs');
  t.ok(fs.statSync(path.join(rootfs, 'tmp', unique)).isDirectory(), 'so did the /escape one');
  t.ok(fs.statSync(path.join(rootfs, 'tmp', `${unique}-dev`)).isDirectory(), 'and /dev');
  t.same(hostPaths.flatMap((p) => mountsUnder(p)), [], 'no mount on the host paths');
  assertNothingLeft(t, sandbox);
});

t.test('proc and sysfs are refused on a /proc or /sys that is a symlink, as runc (its mask.bats)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const sysfs = { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
  for (const [dir, mounts] of [['proc', [proc]], ['sys', [proc, sysfs]]] as const) {
    const rootfs = copyRootfs(sandbox, `rootfs-${dir}`);
    fs.rmdirSync(path.join(rootfs, dir));
    fs.symlinkSync('/symlink', path.join(rootfs, dir));
    const bundle = sandbox.bundle(scriptConfig('echo ran', { overrides: { root: { path: rootfs }, mounts: [...mounts] } }));
    const result = await sandbox.tsrunc(['run', '--bundle', bundle, `link-${dir}`]);
    t.equal(result.status, 1, `/${dir} -> /symlink: run fails`);
    t.match(result.stderr, new RegExp(`"/${dir}" resolves to "/symlink" in the rootfs and cannot be mounted: filesystem "${dir === 'sys' ? 'sysfs' : 'proc'}" must be mounted on ordinary directory`));
    t.notMatch(result.stdout, /ran/, 'the process never ran');
  }
  assertNothingLeft(t, sandbox);
});

t.test('a relative mount destination is relative to / (runtime-spec 1.2), with a warning', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = scriptConfig('echo type=$(stat -f -c %T /tmp)', {
    overrides: { mounts: [proc, { destination: 'tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }] },
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'relative']);
  t.equal(result.status, 0, result.stderr);
  t.equal(fields(result.stdout)['type'], 'tmpfs', 'the tmpfs is on /tmp');
  t.match(result.stderr, /level=warning msg=.*\/mounts\/1\/destination: \\"tmp\\" is relative: taken as \\"\/tmp\\"/);
});
