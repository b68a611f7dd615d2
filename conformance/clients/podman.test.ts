/**
 * podman (Debian's 4.3, through conmon) drives tsrunc, for real: private storage, run and tmp
 * dirs and private containers.conf/storage.conf under a temp dir, --rootfs so no image is
 * pulled, and `--runtime <tsrunc wrapper>`: run --rm, -i, -d with exec, update, pause,
 * unpause and stop, -t, --memory and --pids-limit, --uidmap/--gidmap (a user namespace). Nothing may be left: containers, conmon,
 * mounts, cgroups, tsrunc state.
 */
import fs from 'node:fs';
import os from 'node:os';
import t from 'tap';
import { processExists, runCommand, waitFor, type RunResult } from '../lib/harness.js';
import { fields } from '../lib/container-helpers.js';
import { CgroupParents, ClientSandbox, HostDirs, cgroupDirs, requireCommand, runInPty } from './client-sandbox.js';

requireCommand('/usr/bin/podman', 'podman');
requireCommand('/usr/bin/conmon', 'conmon');
requireCommand('/usr/bin/script', 'bsdutils');

const sandbox = new ClientSandbox('podman');
// podman passes --runtime-flag values on to most tsrunc calls but not to the `delete --force`
// of its cleanup process, so the wrapper itself pins tsrunc's --root into the temp dir.
const tsruncRoot = sandbox.path('tsrunc-root');
const tsrunc = sandbox.tsruncWrapper(['--root', tsruncRoot]);
// netavark's run dir is /run/containers/networks for root whatever the configuration says;
// --tmpdir keeps libpod out of /run/libpod.
const hostDirs = new HostDirs(['/run/containers', '/run/libpod', '/var/lib/containers', '/run/tsrunc']);
// cgroupfs manager: conmon goes to libpod_parent/conmon, containers to libpod_parent/libpod-<id>.
const libpodCgroups = new CgroupParents('libpod_parent');
// conmon makes its console socket (for -t) as conmon-term.XXXXXX in the temp dir, not in ours.
const conmonSockets = (): string[] => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('conmon-term.'));
const conmonSocketsBefore = new Set(conmonSockets());

// Nothing from the host's /etc/containers or /usr/share/containers: these replace them.
process.env['CONTAINERS_CONF'] = sandbox.path('containers.conf');
process.env['CONTAINERS_STORAGE_CONF'] = sandbox.path('storage.conf');
process.env['CONTAINERS_REGISTRIES_CONF'] = sandbox.path('registries.conf');
fs.writeFileSync(sandbox.path('containers.conf'), '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n');
// vfs: the containers use --rootfs, so the storage driver only holds podman's bookkeeping, and
// vfs (unlike overlay) mounts nothing on the graph root that would outlive podman.
fs.writeFileSync(
  sandbox.path('storage.conf'),
  `[storage]\ndriver = "vfs"\nrunroot = "${sandbox.path('run')}"\ngraphroot = "${sandbox.path('storage')}"\n`,
);
fs.writeFileSync(sandbox.path('registries.conf'), 'unqualified-search-registries = []\n');

const podmanGlobal = [
  '--runtime', tsrunc,
  '--root', sandbox.path('storage'), '--runroot', sandbox.path('run'), '--tmpdir', sandbox.path('tmp'),
  '--network-config-dir', sandbox.path('networks'),
  '--cgroup-manager', 'cgroupfs', '--events-backend', 'none',
];
const runFlags = [
  // No bridge networking: it needs netavark, nftables and a firewall setup the test has no
  // business changing on the host; the containers need no network.
  '--network', 'none',
  // This machine caps the hard RLIMIT_NOFILE (20000) and RLIMIT_NPROC even for root, and
  // podman as root asks for more than that by default, which setrlimit refuses (EPERM, from
  // runc as from tsrunc): the limits given stay within the caps.
  '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
  '--rootfs', sandbox.rootfs,
];

function podman(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runCommand('podman', [...podmanGlobal, ...args], { timeoutMs });
}

/** memory.limit_in_bytes (cgroup v1) or memory.max (v2) of a cgroup directory. */
function memoryLimit(dir: string): string {
  const file = fs.existsSync(`${dir}/memory.limit_in_bytes`) ? 'memory.limit_in_bytes' : 'memory.max';
  return fs.readFileSync(`${dir}/${file}`, 'utf8').trim();
}

async function inspect(name: string, format: string): Promise<string> {
  return (await podman(['inspect', '--format', format, name])).stdout.trim();
}

/** Set once the last subtest has checked and cleaned up; otherwise teardown cleans up. */
let checkedClean = false;

t.teardown(async () => {
  if (!checkedClean) {
    await podman(['rm', '--all', '--force', '--time', '0']);
    hostDirs.release();
    libpodCgroups.release();
  }
  sandbox.remove();
});

t.test('podman run --rm: the output comes back and tsrunc did the work', async (t) => {
  const result = await podman(['run', '--rm', ...runFlags, '/bin/sh', '-c', 'echo hello from pid $$; echo nofile=$(ulimit -n)']);
  t.equal(result.status, 0, `podman run: ${result.stderr}`);
  t.equal(result.stdout, 'hello from pid 1\nnofile=1024\n', "the container's output, and the --ulimit given");
  const verbs = sandbox.tsruncCalls().map((call) => call.split(' ').find((word) => ['create', 'start', 'delete'].includes(word)));
  t.same(verbs, ['create', 'start', 'delete'], `conmon and podman called tsrunc: ${sandbox.tsruncCalls().join('\n')}`);
  t.same(fs.existsSync(tsruncRoot) ? fs.readdirSync(tsruncRoot) : [], [], 'no state left in the tsrunc root');
  t.equal((await podman(['ps', '--all', '--quiet'])).stdout, '', 'no container left in podman');
});

t.test("podman run -i --rm: stdin reaches the process; its exit status is podman's", async (t) => {
  const script = 'read line; echo "got=[$line]"; exit 42';
  const result = await runCommand('podman', [...podmanGlobal, 'run', '-i', '--rm', ...runFlags, '/bin/sh', '-c', script], { input: 'typed line\n' });
  t.equal(result.stdout, 'got=[typed line]\n', `the line given on stdin is read: ${result.stderr}`);
  t.equal(result.status, 42, "podman exits with the container's status");
});

t.test('podman run -d, exec, update, pause, stop, rm; --memory and --pids-limit reach the cgroup', async (t) => {
  // A shell as pid 1 has no default SIGTERM action: it says what to do with one.
  const script = 'trap "exit 0" TERM; while :; do sleep 0.1; done';
  const started = await podman(['run', '-d', '--name', 'p-det', '--memory', '64m', '--pids-limit', '77', ...runFlags, '/bin/sh', '-c', script]);
  t.equal(started.status, 0, `podman run -d: ${started.stderr}`);
  const id = started.stdout.trim();
  t.equal(await inspect('p-det', '{{.State.Status}}'), 'running', 'podman sees it running');
  const pid = Number(await inspect('p-det', '{{.State.Pid}}'));
  t.ok(processExists(pid), `its pid ${pid} runs on the host`);
  const state = await runCommand(tsrunc, ['state', id]);
  t.match(JSON.parse(state.stdout || '{}'), { status: 'running', pid }, `tsrunc state agrees: ${state.stderr}`);

  // From the host: the cgroup tsrunc made for the container (podman names it).
  const cgroup = `libpod_parent/libpod-${id}`;
  const [memoryDir] = cgroupDirs(cgroup).filter((dir) => fs.existsSync(`${dir}/memory.limit_in_bytes`) || fs.existsSync(`${dir}/memory.max`));
  const [pidsDir] = cgroupDirs(cgroup).filter((dir) => fs.existsSync(`${dir}/pids.max`));
  t.ok(memoryDir && pidsDir, `the container has memory and pids cgroups under ${cgroup}`);
  if (memoryDir) {
    t.equal(memoryLimit(memoryDir), String(64 * 1024 * 1024), '--memory 64m is the cgroup memory limit');
    t.ok(fs.readFileSync(`${memoryDir}/cgroup.procs`, 'utf8').split('\n').includes(String(pid)), 'the container process is in it');
  }
  if (pidsDir) t.equal(fs.readFileSync(`${pidsDir}/pids.max`, 'utf8').trim(), '77', '--pids-limit 77 is pids.max');
  const updated = await podman(['update', '--memory', '96m', 'p-det']);
  t.equal(updated.status, 0, `podman update: ${updated.stderr}`);
  if (memoryDir) t.equal(memoryLimit(memoryDir), String(96 * 1024 * 1024), 'podman update --memory 96m reaches the cgroup');
  t.equal(sandbox.tsruncCalls('update', id).length, 1, 'through tsrunc update');

  // From inside, through podman exec (tsrunc exec --detach under conmon).
  const exec = await podman(['exec', 'p-det', '/bin/sh', '-c', [
    'echo init=$(cat /proc/1/cmdline | tr "\\0" " ")',
    'echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)',
    'echo pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)',
    'exit 3',
  ].join('; ')]);
  t.equal(exec.status, 3, `podman exec exits with the process's status: ${exec.stderr}`);
  const seen = fields(exec.stdout);
  t.equal(seen['init'], `/bin/sh -c ${script}`, "the exec'd process runs beside pid 1");
  t.equal(seen['memory'], String(96 * 1024 * 1024), 'the container sees its (updated) memory limit');
  t.equal(seen['pids'], '77', 'and its pids limit');
  t.equal(sandbox.tsruncCalls('exec', id).length, 1, 'through tsrunc exec');

  t.equal((await podman(['pause', 'p-det'])).status, 0, 'podman pause');
  t.equal(await inspect('p-det', '{{.State.Status}}'), 'paused', 'paused (tsrunc pause)');
  t.equal((await podman(['unpause', 'p-det'])).status, 0, 'podman unpause');
  t.equal(await inspect('p-det', '{{.State.Status}}'), 'running', 'running again (tsrunc resume)');
  t.equal(sandbox.tsruncCalls('pause', id).length + sandbox.tsruncCalls('resume', id).length, 2, 'through tsrunc pause and resume');

  const stopped = await podman(['stop', '--time', '10', 'p-det']);
  t.equal(stopped.status, 0, `podman stop: ${stopped.stderr}`);
  t.notMatch(stopped.stderr, 'SIGKILL', 'SIGTERM was enough: no fallback to SIGKILL');
  t.equal(await inspect('p-det', '{{.State.ExitCode}}'), '0', 'the container exited 0 from its TERM trap');
  t.ok(sandbox.tsruncCalls('kill', id).some((call) => call.endsWith(`kill ${id} 15`)), 'tsrunc kill got SIGTERM');
  const removed = await podman(['rm', 'p-det']);
  t.equal(removed.status, 0, `podman rm: ${removed.stderr}`);
  t.notOk(processExists(pid), 'the container process is gone');
  t.same(cgroupDirs(cgroup), [], "the container's cgroups are gone");
  t.notOk(fs.existsSync(`${tsruncRoot}/${id}`), 'no state left in the tsrunc root');
});

t.test('podman run -t: the process gets a terminal through --console-socket', async (t) => {
  const before = sandbox.tsruncCalls('create').length;
  const script = 'tty; test -t 0 && test -t 1 && echo stdio-is-a-tty';
  const result = await runInPty(['podman', ...podmanGlobal, 'run', '--rm', '-t', ...runFlags, '/bin/sh', '-c', script]);
  t.equal(result.status, 0, `podman run -t: ${result.stdout}${result.stderr}`);
  t.match(result.stdout, /\/dev\/pts\/\d+\s/, 'the process runs on a pty of its own devpts');
  t.match(result.stdout, 'stdio-is-a-tty', 'stdin and stdout are that terminal');
  const creates = sandbox.tsruncCalls('create').slice(before);
  t.equal(creates.length, 1, 'one tsrunc create');
  t.match(creates[0], '--console-socket ', 'conmon passed its console socket');
});

t.test('podman run --uidmap/--gidmap: a user namespace, with and without -t', async (t) => {
  // podman keeps the container's bind sources (/dev/shm, /etc/hosts, ...) under its 0700
  // userdata dir, out of the mapped root's reach: tsrunc create opens them for it.
  const idmap = ['--uidmap', '0:100000:65536', '--gidmap', '0:100000:65536'];
  const script = 'echo "uid_map=$(cat /proc/self/uid_map)"; echo "gid_map=$(cat /proc/self/gid_map)"; echo "uid=$(id -u)"; echo "shm=$(stat -c %F /dev/shm)"';
  const before = sandbox.tsruncCalls('create').length;
  const result = await podman(['run', '--rm', ...idmap, ...runFlags, '/bin/sh', '-c', script]);
  t.equal(result.status, 0, `podman run --uidmap: ${result.stderr}`);
  const seen = fields(result.stdout);
  t.same(seen['uid_map']?.trim().split(/\s+/), ['0', '100000', '65536'], 'uid_map: container 0 is host 100000, 65536 ids');
  t.same(seen['gid_map']?.trim().split(/\s+/), ['0', '100000', '65536'], 'gid_map likewise');
  t.equal(seen['uid'], '0', 'id -u is 0 inside');
  t.equal(seen['shm'], 'directory', "podman's /dev/shm bind (from its userdata dir) is there");

  const tty = await runInPty(['podman', ...podmanGlobal, 'run', '--rm', '-t', ...idmap, ...runFlags, '/bin/sh', '-c', `tty; ${script}`]);
  t.equal(tty.status, 0, `podman run -t --uidmap: ${tty.stdout}${tty.stderr}`);
  t.match(tty.stdout, /\/dev\/pts\/\d+\s/, 'the process runs on a pty of its own devpts');
  const ttySeen = fields(tty.stdout.replace(/\r/g, ''));
  t.same(ttySeen['uid_map']?.trim().split(/\s+/), ['0', '100000', '65536'], '-t: the same mapping');
  t.equal(ttySeen['uid'], '0', '-t: id -u is 0 inside');
  t.equal(sandbox.tsruncCalls('create').length - before, 2, 'both through tsrunc create');
  t.equal((await podman(['ps', '--all', '--quiet'])).stdout, '', 'no container left in podman');
});

t.test('podman run --tmpfs and --read-only: tmpfs mounts with tmpcopyup', async (t) => {
  // podman gives its tmpfs mounts "tmpcopyup" (copy the directory's contents in), as runc and crun take it.
  const tmpfs = await podman(['run', '--rm', '--tmpfs', '/etc', ...runFlags, '/bin/sh', '-c', 'echo type=$(stat -f -c %T /etc); echo passwd=$(grep -c ^root: /etc/passwd)']);
  t.equal(tmpfs.status, 0, `podman run --tmpfs: ${tmpfs.stderr}`);
  t.equal(tmpfs.stdout, 'type=tmpfs\npasswd=1\n', 'a tmpfs on /etc, holding the image\'s /etc');
  const readOnly = await podman(['run', '--rm', '--read-only', ...runFlags, '/bin/sh', '-c', 'touch /x 2>/dev/null; echo root=$?; echo ok > /tmp/y && echo tmp=$(cat /tmp/y)']);
  t.equal(readOnly.status, 0, `podman run --read-only: ${readOnly.stderr}`);
  t.equal(readOnly.stdout, 'root=1\ntmp=ok\n', 'the root refuses writes, its /tmp takes them');
});

t.test('podman leaves nothing behind', async (t) => {
  const removed = await podman(['rm', '--all', '--force', '--time', '0']);
  t.equal(removed.stdout, '', 'no container was left to remove');
  checkedClean = true; // podman is not called again: it would remake /run/containers/networks
  t.ok(await waitFor(() => sandbox.processes().length === 0, 10_000), 'no conmon, podman or tsrunc process left');
  t.same(sandbox.processes(), []);
  t.same(sandbox.mounts(), [], 'no mount left under the temp dir (shm, storage)');
  t.same(fs.existsSync(tsruncRoot) ? fs.readdirSync(tsruncRoot) : [], [], 'the tsrunc root is empty');
  t.same(hostDirs.release(), [], 'nothing new left in /run/containers, /run/libpod, /var/lib/containers or /run/tsrunc');
  t.same(libpodCgroups.release(), [], "libpod_parent (podman's, for conmon) goes once empty");
  t.same(conmonSockets().filter((name) => !conmonSocketsBefore.has(name)), [], "no conmon console socket left in the temp dir");
});
