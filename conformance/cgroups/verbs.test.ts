/** The verbs that work through the container's cgroup: pause, resume, update, ps, events. */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Sandbox, busyboxConfig, waitFor, type JsonObject } from '../lib/harness.js';

interface SavedState {
  pid: number;
  cgroupPaths?: Record<string, string>;
}

function savedState(sandbox: Sandbox, id: string): SavedState {
  return JSON.parse(fs.readFileSync(path.join(sandbox.root, id, 'state.json'), 'utf8')) as SavedState;
}

async function status(sandbox: Sandbox, id: string): Promise<string> {
  return (JSON.parse((await sandbox.tsrunc(['state', id])).stdout) as { status: string }).status;
}

/** A container counting into /tmp/count (a tmpfs), readable from the host through /proc/PID/root. */
function counterConfig(): JsonObject {
  const config = busyboxConfig(['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done']);
  (config['mounts'] as JsonObject[]).push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs' });
  return config;
}

function readCount(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/root/tmp/count`, 'utf8').trim());
  } catch {
    return 0;
  }
}

async function started(sandbox: Sandbox, id: string, config: JsonObject): Promise<number> {
  const bundle = sandbox.bundle(config);
  const created = await sandbox.create(id, bundle);
  if (created.status !== 0) throw new Error(`create ${id}: ${created.stdout}`);
  if ((await sandbox.tsrunc(['start', id])).status !== 0) throw new Error(`start ${id} failed`);
  return savedState(sandbox, id).pid;
}

t.test('pause freezes the container and resume lets it go on', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const pid = await started(sandbox, 'freeze', counterConfig());
  t.ok(await waitFor(() => readCount(pid) > 2), 'the counter runs');

  t.equal((await sandbox.tsrunc(['pause', 'freeze'])).status, 0);
  t.equal(await status(sandbox, 'freeze'), 'paused');
  const frozenAt = readCount(pid);
  await new Promise((r) => setTimeout(r, 400));
  t.equal(readCount(pid), frozenAt, 'the counter stands still while paused');

  const resumeTwice = await sandbox.tsrunc(['pause', 'freeze']);
  t.equal(resumeTwice.status, 1, 'pausing a paused container fails');

  t.equal((await sandbox.tsrunc(['resume', 'freeze'])).status, 0);
  t.equal(await status(sandbox, 'freeze'), 'running');
  t.ok(await waitFor(() => readCount(pid) > frozenAt + 2), 'the counter runs again after resume');

  const resumeRunning = await sandbox.tsrunc(['resume', 'freeze']);
  t.equal(resumeRunning.status, 1);
  t.match(resumeRunning.stderr, /not paused/);

  t.equal((await sandbox.tsrunc(['delete', '--force', 'freeze'])).status, 0);
  t.same(sandbox.leftovers(), []);
});

t.test('update changes the limits of a running container', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = busyboxConfig(['sleep', '60'], {
    linux: { ...(busyboxConfig([])['linux'] as JsonObject), resources: { memory: { limit: 128 * 1024 * 1024 }, pids: { limit: 100 } } },
  });
  await started(sandbox, 'upd', config);
  const paths = savedState(sandbox, 'upd').cgroupPaths ?? {};
  const memoryFile = paths['memory'] ? path.join(paths['memory'], 'memory.limit_in_bytes') : path.join(paths[''] ?? '', 'memory.max');
  const pidsFile = paths['pids'] ? path.join(paths['pids'], 'pids.max') : path.join(paths[''] ?? '', 'pids.max');
  t.equal(fs.readFileSync(memoryFile, 'utf8').trim(), String(128 * 1024 * 1024), 'the create-time limit is in force');

  const flags = await sandbox.tsrunc(['update', '--memory', '64m', 'upd']);
  t.equal(flags.status, 0, flags.stderr);
  t.equal(fs.readFileSync(memoryFile, 'utf8').trim(), String(64 * 1024 * 1024), '--memory 64m is written');

  const fromStdin = await sandbox.tsrunc(['update', '--resources', '-', 'upd'], { input: JSON.stringify({ pids: { limit: 42 } }) });
  t.equal(fromStdin.status, 0, fromStdin.stderr);
  t.equal(fs.readFileSync(pidsFile, 'utf8').trim(), '42', '--resources - is read from stdin');
  t.equal(fs.readFileSync(memoryFile, 'utf8').trim(), String(64 * 1024 * 1024), 'an update keeps the limits it does not name');

  const bad = await sandbox.tsrunc(['update', '--resources', '-', 'upd'], { input: JSON.stringify({ pids: { limit: 'many' } }) });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /\/linux\/resources\/pids\/limit: must be integer/);

  t.equal((await sandbox.tsrunc(['delete', '--force', 'upd'])).status, 0);
  t.same(sandbox.leftovers(), []);
});

const memsw = fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
t.test('update --memory -1 lifts a memory+swap limit (v1)', { skip: !memsw && 'needs a v1 memory cgroup with swap accounting' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const config = busyboxConfig(['sleep', '60'], {
    linux: { ...(busyboxConfig([])['linux'] as JsonObject), resources: { memory: { limit: 52428800, swap: 96468992 } } },
  });
  await started(sandbox, 'memsw', config);
  const memory = savedState(sandbox, 'memsw').cgroupPaths?.['memory'] ?? '';
  const read = (file: string) => fs.readFileSync(path.join(memory, file), 'utf8').trim();
  t.equal(read('memory.memsw.limit_in_bytes'), '96468992', 'create set memory+swap');
  // Raising both past the current memory+swap needs memsw written first.
  const raise = await sandbox.tsrunc(['update', '--memory', '200m', '--memory-swap', '300m', 'memsw']);
  t.equal(raise.status, 0, raise.stderr);
  t.equal(read('memory.limit_in_bytes'), String(200 * 1024 * 1024));
  t.equal(read('memory.memsw.limit_in_bytes'), String(300 * 1024 * 1024));
  const lower = await sandbox.tsrunc(['update', '--memory', '50m', '--memory-swap', '60m', 'memsw']);
  t.equal(lower.status, 0, lower.stderr);
  t.equal(read('memory.memsw.limit_in_bytes'), String(60 * 1024 * 1024));
  const unlimited = await sandbox.tsrunc(['update', '--memory', '-1', 'memsw']);
  t.equal(unlimited.status, 0, unlimited.stderr);
  // "Unlimited" reads back as the kernel's page-counter maximum (2^63 less a page).
  t.ok(Number(read('memory.limit_in_bytes')) > 2 ** 62, 'the memory limit is gone');
  t.ok(Number(read('memory.memsw.limit_in_bytes')) > 2 ** 62, 'so is the memory+swap limit');
  const state = JSON.parse(fs.readFileSync(path.join(sandbox.root, 'memsw', 'state.json'), 'utf8')) as { config: JsonObject };
  const saved = (state.config['linux'] as { resources: { memory: JsonObject } }).resources.memory;
  t.equal(saved['limit'], -1);
  t.equal(saved['swap'], undefined, 'the saved config no longer has the old swap limit');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'memsw'])).status, 0);
  t.same(sandbox.leftovers(), []);
});

t.test('ps lists what runs in the container', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const pid = await started(sandbox, 'ps', busyboxConfig(['sh', '-c', 'sleep 60 & sleep 61']));
  let pids: number[] = [];
  t.ok(
    await waitFor(async () => {
      pids = JSON.parse((await sandbox.tsrunc(['ps', '--format', 'json', 'ps'])).stdout) as number[];
      return pids.length === 2;
    }),
    'two processes',
  );
  t.ok(pids.includes(pid), 'the init is listed');
  const table = await sandbox.tsrunc(['ps', 'ps']);
  t.equal(table.status, 0);
  const lines = table.stdout.trim().split('\n');
  t.match(lines[0], /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  t.ok(lines.some((l) => /\bsleep 60$/.test(l)) && lines.some((l) => /\bsleep 61$/.test(l)), 'both commands are shown');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'ps'])).status, 0);
});

t.test('events --stats prints one stats event in runc form', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await started(sandbox, 'ev', busyboxConfig(['sleep', '60']));
  const result = await sandbox.tsrunc(['events', '--stats', 'ev']);
  t.equal(result.status, 0, result.stderr);
  const event = JSON.parse(result.stdout) as { type: string; id: string; data: { pids: { current: number }; memory: { usage: { usage: number } } } };
  t.equal(event.type, 'stats');
  t.equal(event.id, 'ev');
  t.ok(event.data.pids.current >= 1, 'pids.current counts the container');
  t.ok(event.data.memory.usage.usage > 0, 'memory usage is reported');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'ev'])).status, 0);
});
