/**
 * systemd as a container's PID 1 (issue 12): with the config podman 4.3 writes for
 * `podman run --systemd=always` on this kind of host, systemd boots to `running`, shuts down on
 * SIGRTMIN+3 (podman's stop signal for it) and `delete` leaves nothing behind.
 *
 * The root filesystem is Debian bookworm with systemd (tools/systemd-rootfs.sh, which `make test`
 * runs first); without it the test is skipped with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, mountsUnder, processExists, repoRoot, waitFor, type JsonObject, type RunResult } from '../lib/harness.js';
import { detectLayout } from '../../runtime/linux/cgroups/layout.js';

const rootfs = path.join(repoRoot, 'bundle-examples', 'systemd', 'rootfs');
const missing = fs.existsSync(path.join(rootfs, '.tsrunc-systemd-rootfs')) && fs.existsSync(path.join(rootfs, 'sbin', 'init'))
  ? false
  : `no systemd root filesystem at ${rootfs} (make systemd-rootfs, or tools/systemd-rootfs.sh ${rootfs})`;

/** SIGRTMIN+3: systemd's "halt" request, the stop signal podman gives systemd containers (glibc's SIGRTMIN is 34). */
const SIGRTMIN_PLUS_3 = 37;

const layout = detectLayout();
const v1 = layout.version === 1;

interface Variant {
  name: string;
  /** A cgroup namespace of the container's own. */
  cgroupns: boolean;
  mounts: JsonObject[];
  maskedPaths: string[];
  /** How `kill` is given SIGRTMIN+3: podman passes the number; the name is Docker's and podman's. */
  stopSignal: string;
}

const noDev = ['nosuid', 'noexec', 'nodev'];
const tmpfsOptions = ['rw', 'rprivate', 'nosuid', 'nodev', 'tmpcopyup'];

/**
 * What `podman run --systemd=always --rootfs DIR /sbin/init` (podman 4.3) hands its runtime,
 * without podman's own bind mounts (/etc/hosts, /etc/hostname, /run/.containerenv, /dev/shm)
 * and its seccomp profile: tmpfs on /tmp, /run, /run/lock and /var/log/journal, container_uuid
 * in the environment, the stop signal in the annotations.
 */
function podmanSystemdConfig(id: string, variant: Variant): JsonObject {
  const capabilities = [
    'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
    'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
  ];
  const namespaces: JsonObject[] = [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (variant.cgroupns) namespaces.push({ type: 'cgroup' });
  const uuid = Buffer.from(id.padEnd(16, '-').slice(0, 16)).toString('hex');
  return {
    ociVersion: '1.0.2-dev',
    process: {
      user: { uid: 0, gid: 0, umask: 18 },
      args: ['/sbin/init'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'HOME=/root', 'container=oci', `container_uuid=${uuid}`],
      cwd: '/',
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities },
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 },
        { type: 'RLIMIT_NPROC', hard: 1024, soft: 1024 },
      ],
    },
    root: { path: rootfs },
    hostname: id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: noDev },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: [...noDev, 'ro'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: [...noDev, 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: noDev },
      { destination: '/run/lock', type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      ...variant.mounts,
      { destination: '/var/log/journal', type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions },
    ],
    annotations: { 'org.opencontainers.image.stopSignal': String(SIGRTMIN_PLUS_3) },
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: 2048 } },
      namespaces,
      maskedPaths: [
        '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
        '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/fs/selinux', '/sys/dev/block', ...variant.maskedPaths,
      ],
      readonlyPaths: ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

const cgroupMount = (readOnly: boolean): JsonObject => ({
  destination: '/sys/fs/cgroup',
  type: 'cgroup',
  source: 'cgroup',
  options: ['rprivate', ...noDev, 'relatime', readOnly ? 'ro' : 'rw'],
});

const variants: Variant[] = [
  {
    // podman's own choice on a cgroup v1 host: the host's cgroup namespace, the cgroup mount
    // read-only, and the host's whole name=systemd hierarchy bound read-write over it (systemd
    // finds its cgroup there by the path /proc/1/cgroup gives).
    name: "podman's v1 recipe: host cgroup namespace, read-only cgroups, the name=systemd hierarchy bound",
    cgroupns: false,
    mounts: [cgroupMount(true), { destination: '/sys/fs/cgroup/systemd', type: 'bind', source: '/sys/fs/cgroup/systemd', options: ['bind', 'rprivate'] }],
    maskedPaths: ['/sys/fs/cgroup/systemd/release_agent'],
    stopSignal: String(SIGRTMIN_PLUS_3),
  },
  {
    // podman's choice on cgroup v2 (a cgroup namespace, the cgroup mount writable), here on v1:
    // the container sees only its own cgroups, at their roots.
    name: 'a cgroup namespace of its own and a writable cgroup mount',
    cgroupns: true,
    mounts: [cgroupMount(false)],
    maskedPaths: [],
    stopSignal: 'SIGRTMIN+3',
  },
];

t.test('bundle-examples/systemd/config.json is the second config below (root "rootfs", no container_uuid)', async (t) => {
  const example = JSON.parse(fs.readFileSync(path.join(repoRoot, 'bundle-examples', 'systemd', 'config.json'), 'utf8')) as JsonObject;
  const expected = podmanSystemdConfig('systemd', variants[1]!);
  const proc = expected['process'] as { env: string[] };
  proc.env = proc.env.filter((entry) => !entry.startsWith('container_uuid='));
  t.same(example, { ...expected, root: { path: 'rootfs' } });
});

const systemdHierarchy = fs.existsSync('/sys/fs/cgroup/systemd/cgroup.procs');

interface SavedState {
  pid: number;
  cgroupPaths?: Record<string, string>;
}

function describe(result: RunResult): string {
  return `status ${String(result.status)}${result.signal ? ` (${result.signal})` : ''}: ${(result.stdout + result.stderr).trim()}`;
}

/**
 * `systemctl is-system-running --wait` until it answers: right after `start` the manager's bus
 * socket is not there yet ("Failed to connect to bus"), and --wait only waits once connected.
 */
async function systemState(sandbox: Sandbox, id: string, timeoutMs: number): Promise<RunResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(deadline - Date.now(), 1000);
    const result = await sandbox.tsrunc(['exec', id, 'systemctl', 'is-system-running', '--wait'], { timeoutMs: left });
    const notYet = /Failed to connect to bus|System has not been booted with systemd/.test(result.stdout + result.stderr);
    if (!notYet || Date.now() >= deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const [index, variant] of variants.entries()) {
  const skip = missing || (!v1 && 'the configs are the ones podman writes for a cgroup v1 host') ||
    (!variant.cgroupns && !systemdHierarchy && 'the host has no name=systemd hierarchy to bind');
  t.test(`systemd as PID 1 reaches running and stops on SIGRTMIN+3 (${variant.name})`, { skip, timeout: 60_000 }, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const id = `sd-${index}`;
    const bundle = sandbox.bundle(podmanSystemdConfig(id, variant));

    const created = await sandbox.create(id, bundle);
    t.equal(created.status, 0, `create: ${describe(created)}`);
    if (created.status !== 0) return;
    const saved = JSON.parse(fs.readFileSync(path.join(sandbox.root, id, 'state.json'), 'utf8')) as SavedState;
    const initPid = saved.pid;
    const cgroupDirs = Object.values(saved.cgroupPaths ?? {});
    const started = await sandbox.tsrunc(['start', id]);
    t.equal(started.status, 0, `start: ${describe(started)}`);

    const booted = Date.now();
    const state = await systemState(sandbox, id, 30_000);
    const failed = await sandbox.tsrunc(['exec', id, 'systemctl', 'list-units', '--failed', '--no-pager', '--no-legend', '--plain']);
    t.equal(
      state.stdout.trim(),
      'running',
      `systemctl is-system-running --wait: ${describe(state)}\nfailed units: ${failed.stdout.trim() || '(none)'}\ncontainer output:\n${sandbox.output(id)}`,
    );
    t.comment(`systemd reported "${state.stdout.trim()}" ${Date.now() - booted} ms after start`);
    t.equal(failed.stdout.trim(), '', 'no failed units');
    const pid1 = await sandbox.tsrunc(['exec', id, 'cat', '/proc/1/comm']);
    t.equal(pid1.stdout.trim(), 'systemd', 'systemd is PID 1');

    // PID 1 of a PID namespace gets only the signals it has handlers for: the container stops
    // only if systemd took SIGRTMIN+3 as the halt request and shut itself down.
    const killed = await sandbox.tsrunc(['kill', id, variant.stopSignal]);
    t.equal(killed.status, 0, `kill ${variant.stopSignal}: ${describe(killed)}`);
    const stopping = Date.now();
    const stopped = await waitFor(async () => {
      const result = await sandbox.tsrunc(['state', id]);
      return result.status === 0 && (JSON.parse(result.stdout) as { status: string }).status === 'stopped';
    }, 20_000);
    t.ok(stopped, `systemd shut down and the container stopped on SIGRTMIN+3\ncontainer output:\n${sandbox.output(id)}`);
    t.comment(`stopped ${Date.now() - stopping} ms after SIGRTMIN+3`);
    t.notOk(processExists(initPid), `the init (pid ${initPid}) is gone`);

    const deleted = await sandbox.tsrunc(['delete', id]);
    t.equal(deleted.status, 0, `delete: ${describe(deleted)}`);
    t.same(sandbox.leftovers(), [], 'no state left under --root');
    t.same(cgroupDirs.filter((dir) => fs.existsSync(dir)), [], 'no cgroup left (the ones systemd made below it included)');
    t.same(mountsUnder(sandbox.dir), [], 'no mount left');
    t.same(mountsUnder(rootfs), [], 'no mount left on the root filesystem');
    t.same(sandbox.processes(), [], 'no process left');
  });
}
