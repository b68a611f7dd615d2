/**
 * For a person debugging a bundle: `tsrunc check` finds every problem at once and creates
 * nothing; `tsrunc explain` prints the plan, and its JSON is the plan create applies (create
 * --debug logs it); `--debug` on a create that fails at a mount shows the operation, its
 * inputs and the errno.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, mountsUnder, repoRoot, type JsonObject } from '../lib/harness.js';
import { cgroupsNamed, copyRootfs } from '../lib/container-helpers.js';
import { detectLayout } from '../../runtime/linux/cgroups/layout.js';

let serial = 0;
function cgroupName(): string {
  return `tsrunc-check-${process.pid}-${++serial}`;
}

interface CheckJson {
  ok: boolean;
  problems: { path: string; message: string }[];
  warnings: { path: string; message: string }[];
}

function withLinux(config: JsonObject, fields: JsonObject): JsonObject {
  return { ...config, linux: { ...(config['linux'] as JsonObject), ...fields } };
}

function hasController(name: string): boolean {
  const layout = detectLayout();
  if (layout.hierarchies.some((h) => h.controllers.includes(name))) return true;
  try {
    return fs.readFileSync(path.join(layout.unified?.mountPoint ?? '/nonexistent', 'cgroup.controllers'), 'utf8').split(/\s+/).includes(name);
  } catch {
    return false;
  }
}

/** One broken thing each: the JSON path check must name, and the words it must say. */
function brokenBundles(sandbox: Sandbox): { name: string; config: JsonObject; path: string; says: RegExp }[] {
  const base = busyboxConfig(['true']);
  const notExecutable = path.join(sandbox.dir, 'not-executable');
  fs.writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
  const cases = [
    { name: 'a schema error', config: { ...base, process: { ...(base['process'] as JsonObject), args: 'true' } }, path: '/process/args', says: /must be array/ },
    { name: 'a missing rootfs', config: { ...base, root: { path: '/no/such/rootfs' } }, path: '/root/path', says: /\/no\/such\/rootfs does not exist/ },
    {
      name: 'a missing bind source',
      config: { ...base, mounts: [...(base['mounts'] as JsonObject[]), { destination: '/data', type: 'bind', source: '/no/such/source', options: ['rbind'] }] },
      path: '/mounts/2/source', says: /\/no\/such\/source does not exist/,
    },
    {
      name: 'a filesystem type this kernel does not know',
      config: { ...base, mounts: [...(base['mounts'] as JsonObject[]), { destination: '/x', type: 'tmpfss', source: 'tmpfs' }] },
      path: '/mounts/2/type', says: /knows no filesystem "tmpfss"/,
    },
    { name: 'a hook that is not executable', config: { ...base, hooks: { prestart: [{ path: notExecutable }] } }, path: '/hooks/prestart/0/path', says: /is not executable/ },
    { name: 'a hook that does not exist', config: { ...base, hooks: { poststop: [{ path: '/no/such/hook' }] } }, path: '/hooks/poststop/0/path', says: /does not exist on this host/ },
    { name: 'a sysctl that is not namespaced', config: withLinux(base, { sysctl: { 'vm.swappiness': '10' } }), path: '/linux/sysctl/vm.swappiness', says: /not in a separate kernel namespace/ },
    {
      name: 'a namespace path that is not a namespace',
      config: withLinux(base, { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: '/etc/passwd' }] }),
      path: '/linux/namespaces/2/path', says: /\/etc\/passwd is not a network namespace/,
    },
    {
      name: 'a namespace path of the wrong type',
      config: withLinux(base, { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'network', path: '/proc/self/ns/uts' }] }),
      path: '/linux/namespaces/2/path', says: /is not a network namespace \(it is uts:\[\d+\]\)/,
    },
    {
      name: 'id mappings without a user namespace',
      config: withLinux(base, { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] }),
      path: '/linux/uidMappings', says: /user namespace/,
    },
    { name: 'a network device the host lacks', config: withLinux(base, { netDevices: { 'tsrtest-none': { name: 'eth9' } } }), path: '/linux/netDevices/tsrtest-none', says: /the host has no network device "tsrtest-none"/ },
    { name: 'a network device name the kernel refuses', config: withLinux(base, { netDevices: { lo: { name: 'eth 9' } } }), path: '/linux/netDevices/lo/name', says: /"eth 9" is not a valid network device name/ },
    {
      name: 'a device rule that is malformed',
      config: withLinux(base, { resources: { devices: [{ allow: true, type: 'x', access: 'rwm' }] } }),
      path: '/linux/resources/devices/0/type', says: /must be equal to one of the allowed values/,
    },
  ];
  cases.push({
    name: 'a device the host lacks, in a user namespace (bind-mounted from the host)',
    config: withLinux(base, {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'user' }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      devices: [{ path: '/dev/no-such-device', type: 'c', major: 1, minor: 3 }],
    }),
    path: '/linux/devices/0/path', says: /\/dev\/no-such-device does not exist on this host/,
  });
  if (libseccompVersion() < 2.6) {
    cases.push({
      name: 'a seccomp architecture libseccomp does not know',
      config: withLinux(base, { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_LOONGARCH64'] } }),
      path: '/linux/seccomp/architectures/1', says: /SCMP_ARCH_LOONGARCH64 is not supported by libseccomp/,
    });
  }
  if (!hasController('rdma')) {
    cases.push({ name: 'a cgroup controller this host lacks', config: withLinux(base, { resources: { rdma: { mlx5_0: { hcaHandles: 1 } } } }), path: '/linux/resources/rdma', says: /no rdma cgroup controller/ });
  }
  return cases;
}

/** Debian's libseccomp2 as major.minor (2.5 on bookworm: no loongarch64). */
function libseccompVersion(): number {
  const version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'libseccomp2'], { encoding: 'utf8' });
  const [major, minor] = version.split('.');
  return Number(`${major}.${minor}`);
}

async function check(sandbox: Sandbox, config: JsonObject, format = 'json'): Promise<{ status: number | null; report: CheckJson; text: string }> {
  const result = await sandbox.tsrunc(['check', '--bundle', sandbox.bundle(config), '--format', format]);
  return { status: result.status, report: format === 'json' ? (JSON.parse(result.stdout) as CheckJson) : { ok: false, problems: [], warnings: [] }, text: result.stdout + result.stderr };
}

function assertNothingMade(t: Test, sandbox: Sandbox, name: string): void {
  t.notOk(fs.existsSync(sandbox.root), 'no --root, no state directory');
  t.same(cgroupsNamed(name), [], 'no cgroup');
  t.same(mountsUnder(sandbox.dir), [], 'no mount');
  t.same(sandbox.processes(), [], 'no process');
}

t.test('check: each broken bundle, its problem named by JSON path, exit status 1, nothing made', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const broken of brokenBundles(sandbox)) {
    const name = cgroupName();
    const config = withLinux(broken.config, { cgroupsPath: `/${name}` });
    const { status, report } = await check(sandbox, config);
    t.equal(status, 1, `${broken.name}: exit status 1`);
    const found = report.problems.find((problem) => problem.path === broken.path);
    t.ok(found, `${broken.name}: a problem at ${broken.path} (got ${JSON.stringify(report.problems)})`);
    t.match(found?.message ?? '', broken.says, `${broken.name}: says what is wrong`);
    assertNothingMade(t, sandbox, name);
  }
});

t.test('check: every problem at once, one line each', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['true']);
  const name = cgroupName();
  const config = withLinux({
    ...base,
    root: { path: '/no/such/rootfs' },
    mounts: [...(base['mounts'] as JsonObject[]), { destination: '/data', type: 'bind', source: '/no/such/source' }, { destination: '/x', type: 'tmpfss', source: 'tmpfs' }],
    hooks: { poststop: [{ path: '/no/such/hook' }] },
  }, { sysctl: { 'vm.swappiness': '10' }, cgroupsPath: `/${name}`, netDevices: { 'tsrtest-none1': {}, 'tsrtest-none2': {} } });
  const { status, text } = await check(sandbox, config, 'text');
  t.equal(status, 1);
  const lines = text.trim().split('\n');
  for (const where of ['/root/path', '/mounts/2/source', '/mounts/3/type', '/hooks/poststop/0/path', '/linux/sysctl/vm.swappiness',
    '/linux/netDevices/tsrtest-none1', '/linux/netDevices/tsrtest-none2']) {
    t.equal(lines.filter((line) => line.startsWith(`config.json ${where}: `)).length, 1, `one line for ${where}`);
  }
  assertNothingMade(t, sandbox, name);
});

t.test('check: a good bundle passes with exit status 0', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = cgroupName();
  const { status, report } = await check(sandbox, withLinux(busyboxConfig(['true']), { cgroupsPath: `/${name}` }));
  t.equal(status, 0);
  t.same(report.problems, []);
  t.equal(report.ok, true);
  const text = await check(sandbox, busyboxConfig(['true']), 'text');
  t.match(text.text, /no problems found/);
  assertNothingMade(t, sandbox, name);
});

t.test('check: what create accepts with a warning is a warning, exit status 0', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['true']);
  const config = withLinux({ ...base, process: { ...(base['process'] as JsonObject), capabilities: { bounding: ['CAP_CHOWN', 'CAP_FLY'] } } }, {
    seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'no_such_syscall'], action: 'SCMP_ACT_ERRNO' }] },
    devices: [{ path: '/dev/nothing-here', type: 'c', major: 250, minor: 250 }],
  });
  const { status, report } = await check(sandbox, config);
  t.equal(status, 0);
  t.same(report.problems, []);
  t.match(report.warnings, [
    { path: '/process/capabilities/bounding/1', message: /unknown capability "CAP_FLY": create leaves it out/ },
    { path: '/linux/devices/0', message: /no char device 250:250/ },
    { path: '/linux/seccomp/syscalls/0/names/1', message: /does not know the syscall "no_such_syscall"/ },
  ]);
});

/**
 * Configs real managers wrote: containerd's default spec (`ctr oci spec`, run now) and one
 * podman 4.3 generated (`podman --runtime tsrunc create --memory 64m --pids-limit 100 ...`,
 * conformance/fixtures; its host paths made placeholders), each with a rootfs and files of the test's own.
 */
function generatedConfigs(sandbox: Sandbox): { name: string; config: JsonObject }[] {
  const rootfs = copyRootfs(sandbox);
  const userdata = path.join(sandbox.dir, 'userdata');
  fs.mkdirSync(path.join(userdata, 'shm'), { recursive: true });
  for (const file of ['hosts', 'hostname', '.containerenv']) fs.writeFileSync(path.join(userdata, file), '');
  const podmanText = fs.readFileSync(path.join(repoRoot, 'conformance', 'fixtures', 'podman-4.3-config.json'), 'utf8')
    .replaceAll('@ROOTFS@', rootfs).replaceAll('@USERDATA@', userdata);
  const containerd = JSON.parse(execFileSync('ctr', ['oci', 'spec'], { encoding: 'utf8' })) as JsonObject;
  containerd['root'] = { path: rootfs };
  containerd['process'] = { ...(containerd['process'] as JsonObject), args: ['sleep', '10'], env: ['PATH=/bin'] };
  return [
    { name: 'podman 4.3', config: withLinux(JSON.parse(podmanText) as JsonObject, { cgroupsPath: `/${cgroupName()}` }) },
    { name: 'containerd 1.6 (ctr oci spec)', config: withLinux(containerd, { cgroupsPath: `/${cgroupName()}` }) },
  ];
}

t.test('configs podman and containerd generated: check passes, explain prints the plan create applies', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const { name, config } of generatedConfigs(sandbox)) {
    const bundle = sandbox.bundle(config);
    const checked = await sandbox.tsrunc(['check', '--bundle', bundle]);
    t.equal(checked.status, 0, `${name}: check: ${checked.stdout}`);
    const text = await sandbox.tsrunc(['explain', '--bundle', bundle, 'generated']);
    t.equal(text.status, 0, `${name}: explain: ${text.stderr}`);
    t.match(text.stdout, /^ {2}1\. \/proc <- proc proc \[nosuid,nodev,noexec\]$/m, `${name}: the mounts`);
    t.match(text.stdout, /^ {4}bounding: (\S+ )*CAP_CHOWN /m, `${name}: the capabilities`);
    const json = await sandbox.tsrunc(['explain', '--bundle', bundle, '--format', 'json', 'generated']);
    const explained = (JSON.parse(json.stdout) as { plan: unknown }).plan;
    const log = path.join(sandbox.dir, `${name.split(' ')[0]}.log`);
    const created = await sandbox.tsrunc(['--debug', '--log', log, '--log-format', 'json', 'create', '--bundle', bundle, 'generated'], { outputFile: sandbox.outputOf('generated') });
    t.equal(created.status, 0, `${name}: create: ${sandbox.output('generated')}`);
    const planLine = fs.readFileSync(log, 'utf8').split('\n').filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { msg: string }).find((entry) => entry.msg.startsWith('plan: '));
    t.same(JSON.parse(planLine?.msg.slice('plan: '.length) ?? 'null'), explained, `${name}: explain --format json is what create applied`);
    t.equal((await sandbox.tsrunc(['delete', '--force', 'generated'])).status, 0, `${name}: deleted`);
    t.same(sandbox.leftovers(), []);
  }
  t.same(mountsUnder(sandbox.dir), []);
});

t.test('explain: the example bundle, in words', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await sandbox.tsrunc(['explain', '--bundle', path.join(repoRoot, 'bundle-examples', 'busybox'), 'demo']);
  t.equal(result.status, 0, result.stderr);
  const text = result.stdout;
  t.match(text, /^namespaces\n {2}new: pid network ipc uts mount cgroup$/m, 'the new namespaces');
  t.match(text, /^ {2}1\. \/proc <- proc proc$/m, 'the first mount');
  t.match(text, /^ {2}6\. \/sys <- sysfs sysfs \[ro,nosuid,nodev,noexec\]$/m, 'flags by name');
  t.match(text, /^masked paths: .*\/proc\/kcore/m);
  t.match(text, /^cgroup\n/m);
  // The default cgroup under a --root of its own: the id and a hash of the root.
  if (detectLayout().version === 1) t.match(text, /\/demo-[0-9a-f]{8}\/devices\.allow = "c 1:3 rwm"$/m, 'the device rules written');
  t.match(text, /^ {4}bounding: CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE$/m, 'capabilities by name');
  t.match(text, /^ {2}rlimit RLIMIT_NOFILE: soft 1024 hard 1024$/m);
  t.match(text, /^ {2}args: \["sh","-c",/m);
  t.notOk(fs.existsSync(sandbox.root), 'nothing made');
});

t.test('explain --format json is the plan create applies', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const name = cgroupName();
  const config = withLinux(busyboxConfig(['sleep', '10']), {
    cgroupsPath: `/${name}`, resources: { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } }, sysctl: { 'net.ipv4.ip_forward': '1' },
  });
  (config as JsonObject)['hooks'] = { poststop: [{ path: '/bin/true' }] };
  const bundle = sandbox.bundle(config);
  const explained = await sandbox.tsrunc(['explain', '--bundle', bundle, '--format', 'json', 'same']);
  t.equal(explained.status, 0, explained.stderr);
  const explanation = JSON.parse(explained.stdout) as { plan: unknown; cgroup: { writes: { file: string; value: string }[]; afterReady: { file: string; value: string }[] } };
  t.ok(explanation.cgroup.writes.some((w) => w.file === 'memory.limit_in_bytes' || w.file === 'memory.max'), 'the memory limit is among the writes');
  t.ok(explanation.cgroup.afterReady.some((w) => w.file === 'pids.max' && w.value === '50'), 'pids.max once the init is ready');

  const log = path.join(sandbox.dir, 'create.log');
  const created = await sandbox.tsrunc(['--debug', '--log', log, '--log-format', 'json', 'create', '--bundle', bundle, 'same'], { outputFile: sandbox.outputOf('same') });
  t.equal(created.status, 0, sandbox.output('same'));
  const planLine = fs.readFileSync(log, 'utf8').split('\n').filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { msg: string }).find((entry) => entry.msg.startsWith('plan: '));
  t.ok(planLine, 'create --debug logs its plan');
  t.same(JSON.parse(planLine!.msg.slice('plan: '.length)), explanation.plan, 'the same plan, field for field');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'same'])).status, 0);
  t.same(cgroupsNamed(name), []);
});

t.test('--debug on a create that fails at a mount: the operation, its inputs and the errno', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['true']);
  const config = { ...base, mounts: [...(base['mounts'] as JsonObject[]), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=lots'] }] };
  const result = await sandbox.tsrunc(['--debug', 'create', '--bundle', sandbox.bundle(config), 'failing']);
  t.equal(result.status, 1);
  const lines = result.stderr.trim().split('\n');
  t.match(lines.at(-1), /^tsrunc: preparing the rootfs: mount 2 \(tmpfs tmpfs on \/tmp\): mount: EINVAL/, 'the error line comes last');
  t.ok(lines.some((line) => /level=debug msg="step create:dir-made \(\+[\d.]+ ms\)"/.test(line)), 'the steps, timed');
  t.ok(lines.some((line) => /level=debug msg="stage \d+ will: mount .*\\"data\\":\\"size=lots\\".*\(preparing the rootfs: mount 2/.test(line)), 'the mount operation and its inputs');
  t.ok(lines.some((line) => /level=debug msg="stage \d+ says: .*EINVAL/.test(line)), "the stage's answer, with the errno");
  t.ok(lines.some((line) => /level=debug msg="(posix_spawn|socketpair|memfd_create)\S* = \d+ \(/.test(line)), "tsrunc's own calls, with what they were for");
  t.same(sandbox.leftovers(), [], 'and nothing is left');
});

t.test('without --debug: no debug line', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(busyboxConfig(['true'])), 'quiet']);
  t.equal(result.status, 0, result.stderr);
  t.notMatch(result.stderr, /level=debug/);
});
