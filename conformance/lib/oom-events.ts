/**
 * The `tsrunc events` OOM scenario, shared by the host test (cgroup v1 memory controller here)
 * and the VM's (cgroup v2): a container limited to 32 MiB of memory and of memory+swap (so swap
 * cannot absorb it) runs busybox dd with a 128 MiB buffer, twice, each time OOM-killed, then
 * sleeps; `tsrunc events` runs alongside from before the start until after the delete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Sandbox, busyboxConfig, waitFor, type JsonObject, type RunOptions, type RunResult } from './harness.js';

const MiB = 1024 * 1024;

export interface OomRun {
  /** Each line `tsrunc events` printed, parsed. */
  events: { type: string; id: string; data?: unknown }[];
  /** Its raw stdout (and stderr, in the same file), to compare oom lines byte for byte with runc's. */
  stdout: string;
  /** Its lines that are not events (error messages: stderr shares the file). */
  errors: string;
  eventsResult: RunResult;
  /** What the kernel counted in the container's cgroup just before the delete. */
  kernelOomKills: number;
  /** The container's memory cgroup directory (gone after the delete, if all went well). */
  memoryDir: string;
  /** The container's own output: "dd=137" per killed dd. */
  output: string;
}

/** v1: memory.oom_control's oom_kill line (kernel 4.13+); v2: memory.events' oom_kill. */
function kernelOomKills(dir: string): number {
  const file = fs.existsSync(path.join(dir, 'memory.oom_control')) ? 'memory.oom_control' : 'memory.events';
  const match = /^oom_kill (\d+)$/m.exec(fs.readFileSync(path.join(dir, file), 'utf8'));
  if (!match) throw new Error(`no oom_kill line in ${path.join(dir, file)}`);
  return Number(match[1]);
}

/**
 * `ooms`: how many dd runs to OOM (0: the container only sleeps, the control case).
 * `interval`: events' --interval. `options`: per tsrunc command (the VM is slow).
 */
export async function runOomScenario(sandbox: Sandbox, id: string, ooms: number, interval: string, options: RunOptions = {}): Promise<OomRun> {
  const hog = 'dd if=/dev/zero of=/dev/null bs=128M count=1; echo dd=$?; ';
  const config = busyboxConfig(['sh', '-c', `${hog.repeat(ooms)}echo ready; sleep 600`]);
  const linux: JsonObject = { ...(config['linux'] as JsonObject), resources: { memory: { limit: 32 * MiB, swap: 32 * MiB } } };
  const created = await sandbox.create(id, sandbox.bundle({ ...config, linux }), []);
  if (created.status !== 0) throw new Error(`create ${id}: ${created.stdout}`);
  const saved = JSON.parse(fs.readFileSync(path.join(sandbox.root, id, 'state.json'), 'utf8')) as { cgroupPaths?: Record<string, string> };
  const memoryDir = saved.cgroupPaths?.['memory'] ?? saved.cgroupPaths?.[''];
  if (memoryDir === undefined) throw new Error(`${id}: no memory cgroup in state.json`);

  // Not awaited yet: it runs until the container is gone. Its output goes to a file, to be
  // read while it runs: its first stats line says that its OOM watcher is in place (made
  // before the first tick), so the OOMs cannot come too early for it, at any machine's speed.
  const eventsFile = path.join(sandbox.dir, `${id}.events`);
  const events = sandbox.tsrunc(['events', '--interval', interval, id], { timeoutMs: 120_000, ...options, outputFile: eventsFile });
  const readEvents = () => (fs.existsSync(eventsFile) ? fs.readFileSync(eventsFile, 'utf8') : '');
  if (!(await waitFor(() => readEvents().includes('"type":"stats"'), options.timeoutMs ?? 30_000))) {
    throw new Error(`events printed no stats line: ${readEvents()}`);
  }
  const started = await sandbox.tsrunc(['start', id], options);
  if (started.status !== 0) throw new Error(`start ${id}: ${started.stderr}`);
  if (!(await waitFor(() => sandbox.output(id).includes('ready'), options.timeoutMs ?? 30_000))) {
    throw new Error(`${id} never got past its dd runs: ${sandbox.output(id)}`);
  }
  const kills = kernelOomKills(memoryDir);
  const deleted = await sandbox.tsrunc(['delete', '--force', id], options);
  if (deleted.status !== 0) throw new Error(`delete ${id}: ${deleted.stderr}`);
  const eventsResult = await events;
  const parsed = eventsResult.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as OomRun['events'][number]);
  const errors = eventsResult.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('{')).join('\n');
  return { events: parsed, stdout: eventsResult.stdout, errors, eventsResult, kernelOomKills: kills, memoryDir, output: sandbox.output(id) };
}
