/**
 * Mounts over /proc: only a proc filesystem on /proc itself and the files lxcfs emulates
 * (runc's list) are allowed, checked on the destination as resolved inside the rootfs; and
 * /proc/sys, /proc/sysrq-trigger stay read-only or masked as readonlyPaths/maskedPaths say.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, copyRootfs, expectCreateFailure, fields, scriptConfig } from '../lib/container-helpers.js';
import { procMountAllowList } from '../../runtime/linux/paths.js';
import { devTmpfs, procMount, withLinux } from './helpers.js';

const tmpfs = (destination: string) => ({ destination, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });

t.test('the allowed files under /proc can be bind-mounted over', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const allowed = ['/proc/cpuinfo', '/proc/meminfo', '/proc/uptime', '/proc/sys/kernel/ns_last_pid'];
  const script = allowed.map((p) => `echo ${p}=$(cat ${p})`).join('\n');
  const mounts = [procMount, ...allowed.map((p) => ({ destination: p, type: 'bind', source: `fake/${path.basename(p)}`, options: ['bind', 'ro'] }))];
  const bundle = sandbox.bundle(scriptConfig(script, { overrides: { mounts } }));
  fs.mkdirSync(path.join(bundle, 'fake'));
  for (const p of allowed) fs.writeFileSync(path.join(bundle, 'fake', path.basename(p)), `fake ${path.basename(p)}\n`);
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'lxcfs']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  for (const p of allowed) t.equal(seen[p], `fake ${path.basename(p)}`, `${p} shows the bound file`);
  t.ok(allowed.every((p) => procMountAllowList.includes(p)));
  assertNothingLeft(t, sandbox);
});

t.test("a bind of the host's procfs on /proc is accepted, as runc does", async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = scriptConfig('echo fs=$(stat -f -c %T /proc)', {
    overrides: { mounts: [{ destination: '/proc', type: 'bind', source: '/proc', options: ['rbind'] }, devTmpfs] },
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'hostproc']);
  t.equal(result.status, 0, result.stderr);
  t.equal(fields(result.stdout)['fs'], 'proc');
  assertNothingLeft(t, sandbox);
});

t.test('anything else under /proc is refused at create', async (t) => {
  const cases: [string, object, RegExp][] = [
    ['a tmpfs over /proc/sys', tmpfs('/proc/sys'),
      /config\.json: \/mounts\/1\/destination: "\/proc\/sys" is inside \/proc, where only \/proc\/cpuinfo, .*\/proc\/sys\/crypto\/fips_enabled may be mounted$/],
    ['a bind over /proc/sysrq-trigger', { destination: '/proc/sysrq-trigger', type: 'bind', source: '/dev/null', options: ['bind'] },
      /\/mounts\/1\/destination: "\/proc\/sysrq-trigger" is inside \/proc/],
    ['a tmpfs on /proc/self', tmpfs('/proc/self'), /\/mounts\/1\/destination: "\/proc\/self" is inside \/proc/],
    ['a destination reaching /proc through ..', tmpfs('/etc/../proc/1'), /\/mounts\/1\/destination: "\/proc\/1" is inside \/proc/],
    ['a file next to an allowed one', { destination: '/proc/net/dev', type: 'bind', source: '/dev/null', options: ['bind'] },
      /\/mounts\/1\/destination: "\/proc\/net\/dev" is inside \/proc/],
    ['a tmpfs on /proc', tmpfs('/proc'), /\/mounts\/1\/destination: "\/proc" cannot be mounted: only a filesystem of type proc may go on \/proc$/],
    ['a bind of a directory that is no procfs on /proc', { destination: '/proc', type: 'bind', source: '/tmp', options: ['rbind'] },
      /\/mounts\/1\/destination: "\/proc" cannot be mounted: only a filesystem of type proc/],
    ['a mount on / itself', tmpfs('/'), /\/mounts\/1\/destination: "\/" would cover the whole rootfs$/],
  ];
  for (const [name, mount, expected] of cases) {
    await t.test(name, async (t) => {
      const sandbox = new Sandbox();
      t.teardown(() => sandbox.cleanup());
      await expectCreateFailure(t, sandbox, scriptConfig('true', { overrides: { mounts: [procMount, mount] } }), expected);
    });
  }
});

t.test('the check runs on the destination resolved inside the rootfs', async (t) => {
  const cases: [string, string, string, RegExp][] = [
    ['/myproc -> /proc', '/proc', '/myproc/sys', /\/mounts\/1\/destination: "\/myproc\/sys" resolves to "\/proc\/sys" in the rootfs and is inside \/proc/],
    ['/sys-link -> ../../proc/sys (relative)', '../../proc/sys', '/sys-link', /"\/sys-link" resolves to "\/proc\/sys" in the rootfs and is inside \/proc/],
    ['/self-link -> /proc/self', '/proc/self', '/self-link', /"\/self-link" resolves to "\/proc\/[^"]*" in the rootfs and is inside \/proc/],
    ['/fakeproc -> /proc, a tmpfs on it', '/proc', '/fakeproc', /"\/fakeproc" resolves to "\/proc" in the rootfs and cannot be mounted: only a filesystem of type proc/],
    ['/top -> /, a tmpfs on it', '/', '/top', /"\/top" resolves to "\/" in the rootfs and would cover the whole rootfs/],
  ];
  for (const [name, linkTarget, destination, expected] of cases) {
    await t.test(name, async (t) => {
      const sandbox = new Sandbox();
      t.teardown(() => sandbox.cleanup());
      const rootfs = copyRootfs(sandbox);
      fs.symlinkSync(linkTarget, path.join(rootfs, destination.split('/')[1]!));
      const config = scriptConfig('true', { overrides: { root: { path: rootfs }, mounts: [procMount, tmpfs(destination)] } });
      await expectCreateFailure(t, sandbox, config, expected);
    });
  }
  await t.test('a link to an allowed file is fine', async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const rootfs = copyRootfs(sandbox);
    fs.symlinkSync('/proc/uptime', path.join(rootfs, 'uptime-link'));
    const config = scriptConfig('echo uptime=$(cat /proc/uptime)', {
      overrides: { root: { path: rootfs }, mounts: [procMount, { destination: '/uptime-link', type: 'bind', source: 'fake', options: ['bind'] }] },
    });
    const bundle = sandbox.bundle(config);
    fs.writeFileSync(path.join(bundle, 'fake'), '42.00 1.00\n');
    const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'link-ok']);
    t.equal(result.status, 0, result.stderr);
    t.equal(fields(result.stdout)['uptime'], '42.00 1.00', '/proc/uptime is the bound file');
    assertNothingLeft(t, sandbox);
  });
});

t.test('/proc/sys read-only and /proc/sysrq-trigger masked, as configured', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const mountOptions = 'opts() { awk -v p="$1" \'$2==p {o=$4} END {print o}\' /proc/mounts; }';
  const script = [
    mountOptions,
    'echo sys.ro=$(opts /proc/sys | tr , "\\n" | grep -x ro)',
    // Harmless even if it went through: this container has its own network namespace.
    'echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null; echo sys.write=$?',
    'if [ -e /proc/sysrq-trigger ]; then echo sysrq=$(stat -c "%F %t:%T" /proc/sysrq-trigger); else echo sysrq=absent; fi',
    'echo kcore.bytes=$(head -c 16 /proc/kcore 2>/dev/null | wc -c)',
    'echo irq.entries=$(ls -A /proc/irq | wc -l)',
    'echo proc.ro=$(opts /proc | tr , "\\n" | grep -x ro)',
  ].join('\n');
  const config = withLinux(scriptConfig(script), {
    readonlyPaths: ['/proc/sys', '/proc/bus', '/proc/fs'],
    maskedPaths: ['/proc/sysrq-trigger', '/proc/kcore', '/proc/irq'],
  });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'procro']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['sys.ro'], 'ro', '/proc/sys is mounted read-only');
  t.not(seen['sys.write'], '0', 'and cannot be written');
  // This machine's kernel has no magic SysRq, hence no /proc/sysrq-trigger to mask.
  const sysrq = fs.existsSync('/proc/sysrq-trigger') ? 'character special file 1:3' : 'absent';
  t.equal(seen['sysrq'], sysrq, '/proc/sysrq-trigger is /dev/null (when the kernel has one)');
  t.equal(seen['kcore.bytes'], '0', '/proc/kcore reads nothing');
  t.equal(seen['irq.entries'], '0', '/proc/irq is an empty directory');
  t.equal(seen['proc.ro'], '', '/proc itself stays read-write');
  assertNothingLeft(t, sandbox);
});

t.test('without readonlyPaths, /proc/sys is what the namespaces make of it', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const before = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const script = 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo write=$?; echo value=$(cat /proc/sys/net/ipv4/ip_forward)';
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(scriptConfig(script)), 'procrw']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['write'], '0', 'a per-network-namespace sysctl can be written');
  t.equal(seen['value'], '1');
  t.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), before, "the host's is unchanged");
  assertNothingLeft(t, sandbox);
});
