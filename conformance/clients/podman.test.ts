/**
 * podman (Debian's 4.3, through conmon) drives tsrunc, for real: private storage, run and tmp
 * dirs and private containers.conf/storage.conf under a temp dir, --rootfs so no image is
 * pulled, and `--runtime <tsrunc wrapper>`: run --rm, -i, -d with exec, update, pause,
 * unpause and stop, -t, --memory and --pids-limit, --uidmap/--gidmap (a user namespace), and
 * bridge networking (netavark, aardvark-dns) inside network and mount namespaces of the test's
 * own, so that the host's links, firewall and sysctls stay as they were. Nothing may be left:
 * containers, conmon, mounts, cgroups, tsrunc state, processes in that network namespace.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { processExists, runCommand, waitFor, type RunResult } from '../lib/harness.js';
import { fields } from '../lib/container-helpers.js';
import { CgroupParents, ClientSandbox, HostDirs, NetnsJail, cgroupDirs, hostNetworkState, requireCommand, runInPty } from './client-sandbox.js';

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

// The bridge network test runs podman in network and mount namespaces of its own (see NetnsJail).
const jail = new NetnsJail(sandbox);

const podmanGlobal = [
  '--runtime', tsrunc,
  '--root', sandbox.path('storage'), '--runroot', sandbox.path('run'), '--tmpdir', sandbox.path('tmp'),
  '--network-config-dir', sandbox.path('networks'),
  '--cgroup-manager', 'cgroupfs', '--events-backend', 'none',
];
const runFlags = [
  // No bridge networking here: netavark changes links, firewall rules and sysctls, which the
  // test has no business doing on the host; the bridge network test runs podman in a jail.
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

t.test("podman's bridge networks, in a network namespace of the test's own: eth0, a route, DNS, container to container", async (t) => {
  // netavark makes bridges, veths, iptables rules and sets ip_forward: all of it in the jail.
  const hostBefore = await hostNetworkState();
  t.teardown(async () => {
    // After a failure: what is left can only be removed from inside (its netns files are
    // there); once the jail is gone nsenter fails at once.
    await jail.run('podman', [...podmanGlobal, 'rm', '--all', '--force', '--time', '0'], { timeoutMs: 60_000 });
    jail.remove();
  });
  await jail.create();
  const inJail = (args: string[], timeoutMs = 60_000): Promise<RunResult> => jail.run('podman', [...podmanGlobal, ...args], { timeoutMs });
  const netFlags = runFlags.filter((flag, i) => flag !== '--network' && runFlags[i - 1] !== '--network');
  const createsBefore = sandbox.tsruncCalls('create').length;
  const addressAndRoute = 'echo "addr=$(ip -4 -o addr show eth0)"; echo "route=$(ip route show default)"';

  // podman's default network ("podman", 10.88.0.0/16 on podman0): no --network at all.
  const plain = await inJail(['run', '--rm', ...netFlags, '/bin/sh', '-c', addressAndRoute]);
  t.equal(plain.status, 0, `podman run on the default network: ${plain.stderr}`);
  const plainSeen = fields(plain.stdout);
  t.match(plainSeen['addr'], /\beth0\s+inet 10\.88\.\d+\.\d+\/16 /, 'eth0 has an address in the default network 10.88.0.0/16');
  t.match(plainSeen['route'], /^default via 10\.88\.0\.1 dev eth0/, 'and a default route through its gateway');

  // A network of the test's own: DNS on (aardvark-dns), so the containers know each other by name.
  const network = 'tsrunc-podnet';
  const created = await inJail(['network', 'create', '--subnet', '10.89.77.0/24', network]);
  t.equal(created.status, 0, `podman network create: ${created.stderr}`);
  const serve = 'echo served-by-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp';
  const web = await inJail(['run', '-d', '--name', 'web', '--network', network, ...netFlags, '/bin/sh', '-c', serve]);
  t.equal(web.status, 0, `podman run -d httpd: ${web.stderr}`);
  const webId = web.stdout.trim();
  const webIp = (await inJail(['inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, 'web'])).stdout.trim();
  t.match(webIp, /^10\.89\.77\.\d+$/, `web has an address in ${network}'s subnet: ${webIp}`);

  // tsrunc joined the network namespace podman made: a bind-mounted nsfs file in /run/netns.
  const sandboxKey = (await inJail(['inspect', '--format', '{{.NetworkSettings.SandboxKey}}', 'web'])).stdout.trim();
  t.match(sandboxKey, /^\/run\/netns\/netns-/, `podman's netns for web is a file in /run/netns: ${sandboxKey}`);
  t.ok((await jail.mounts()).includes(sandboxKey), 'a bind mount in the jail (which the mount check at the end looks for)');
  const config = JSON.parse(fs.readFileSync(sandbox.path('storage', 'vfs-containers', webId, 'userdata', 'config.json'), 'utf8')) as { linux?: { namespaces?: { type: string; path?: string }[] } };
  t.same(config.linux?.namespaces?.find((ns) => ns.type === 'network'), { type: 'network', path: sandboxKey }, 'the bundle gives tsrunc that path');
  const webPid = Number(await inJail(['inspect', '--format', '{{.State.Pid}}', 'web']).then((r) => r.stdout.trim()));
  const keyInode = (await jail.run('stat', ['-L', '-c', '%i', sandboxKey])).stdout.trim();
  t.equal(String(fs.statSync(`/proc/${webPid}/ns/net`).ino), keyInode, "web's pid 1 is in that network namespace");

  const client = [
    addressAndRoute,
    // Not wget -T: this busybox (Debian's 1.35) segfaults with it, on the host too.
    `echo "byip=$(timeout 10 wget -q -O - http://${webIp}:8080/)"`,
    'echo "byname=$(timeout 10 wget -q -O - http://web:8080/)"',
    `ping -c 1 -W 5 ${webIp} >/dev/null; echo "ping=$?"`,
    'echo "resolv=$(grep ^nameserver /etc/resolv.conf | head -n 1)"',
  ].join('; ');
  const other = await inJail(['run', '--rm', '--network', network, ...netFlags, '/bin/sh', '-c', client]);
  t.equal(other.status, 0, `podman run, a second container on ${network}: ${other.stderr}`);
  const seen = fields(other.stdout);
  t.match(seen['addr'], /\beth0\s+inet 10\.89\.77\.\d+\/24 /, `its eth0 has an address in 10.89.77.0/24: ${seen['addr']}`);
  t.notMatch(seen['addr'], ` ${webIp}/`, 'not the address of web');
  t.match(seen['route'], /^default via 10\.89\.77\.1 dev eth0/, 'a default route through the gateway 10.89.77.1');
  t.equal(seen['byip'], 'served-by-web', 'it fetches a page from the httpd in web by address');
  t.equal(seen['byname'], 'served-by-web', 'and by name (aardvark-dns, through the resolv.conf podman bind-mounts)');
  t.equal(seen['ping'], '0', 'it pings web');
  t.equal(seen['resolv'], 'nameserver 10.89.77.1', "its resolv.conf names the network's DNS server first");

  // In a user namespace of its own: tsrunc joins the netns (owned by the host's user namespace)
  // as well as making the user namespace.
  const idmap = ['--uidmap', '0:100000:65536', '--gidmap', '0:100000:65536'];
  const mapped = await inJail(['run', '--rm', '--network', network, ...idmap, ...netFlags, '/bin/sh', '-c',
    'echo "uid_map=$(cat /proc/self/uid_map)"; echo "byname=$(timeout 10 wget -q -O - http://web:8080/)"']);
  t.equal(mapped.status, 0, `podman run --uidmap on ${network}: ${mapped.stderr}`);
  const mappedSeen = fields(mapped.stdout);
  t.same(mappedSeen['uid_map']?.trim().split(/\s+/), ['0', '100000', '65536'], 'with --uidmap: a user namespace');
  t.equal(mappedSeen['byname'], 'served-by-web', 'with --uidmap: it fetches the page from web by name');

  // podman restart: tsrunc delete, then a new netns and a new tsrunc create; web answers again.
  const restarted = await inJail(['restart', '--time', '0', 'web']);
  t.equal(restarted.status, 0, `podman restart web: ${restarted.stderr}`);
  const again = await inJail(['run', '--rm', '--network', network, ...netFlags, '/bin/sh', '-c', 'timeout 10 wget -q -O - http://web:8080/']);
  t.equal(again.stdout, 'served-by-web\n', `after the restart another container reaches web by name: ${again.stderr}`);
  const restartedPid = Number((await inJail(['inspect', '--format', '{{.State.Pid}}', 'web'])).stdout.trim());
  t.ok(restartedPid > 0 && restartedPid !== webPid && !processExists(webPid), `web runs as a new process (${restartedPid})`);
  t.equal(sandbox.tsruncCalls('create').length - createsBefore, 6, 'all six containers (and the restart) went through tsrunc create');

  const removed = await inJail(['rm', '--force', '--time', '0', 'web']);
  t.equal(removed.status, 0, `podman rm web: ${removed.stderr}`);
  t.notOk(processExists(restartedPid), 'web is gone');
  t.equal((await inJail(['network', 'rm', network])).status, 0, 'podman network rm');
  t.equal((await inJail(['ps', '--all', '--quiet'])).stdout, '', 'no container left in podman');
  t.ok(await waitFor(() => jail.processes().length === 0, 10_000), 'nothing runs in the network namespace any more (aardvark-dns, conmon)');
  t.same(jail.processes(), []);
  t.same(await jail.links(), ['lo'], 'the bridges and veths are gone from it');
  t.same(await jail.mounts(), [], 'no mount left under the temp dir or /run in its mount namespace (shm, netns files)');
  t.same(fs.readdirSync(path.join(jail.runDir, 'netns')), [], "no netns file left in its /run/netns");
  const aardvark = path.join(jail.runDir, 'containers', 'networks', 'aardvark-dns');
  t.same(fs.existsSync(aardvark) ? fs.readdirSync(aardvark) : [], [], 'no aardvark-dns configuration left');
  t.same(fs.existsSync(tsruncRoot) ? fs.readdirSync(tsruncRoot) : [], [], 'no state left in the tsrunc root');

  t.same(jail.remove(), [], 'the namespaces end with nothing to kill');
  t.same(sandbox.mounts(), [], 'their files are unmounted');
  t.same(await hostNetworkState(), hostBefore, "the host's links, nftables and iptables rules, forwarding sysctls and netns are as they were");
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
