/**
 * `make bench`: tsrunc and Debian's runc side by side on the same bundle (issue 6).
 * Runs are interleaved (tsrunc, runc, tsrunc, ...) after a warm-up so that both see the same
 * machine; each case prints its median with min and max (how noisy the machine was), and the
 * tsrunc/runc ratio. Every figure also goes to a JSON file. Only Node's timers and /proc.
 *
 *   BENCH_RUNS=N        timed runs per case and runtime (default 15)
 *   BENCH_HEAVY_RUNS=N  runs of the 20-concurrent case and memory samples (default 3)
 *   BENCH_OUT=FILE      where the JSON goes (default bench-results/bench-<time>.json)
 *   RUNC=PATH           the reference runtime (default runc)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { busyboxRootfs, repoRoot, tsruncMain } from '../lib/harness.js';

type Runtime = 'tsrunc' | 'runc';
const RUNTIMES: Runtime[] = ['tsrunc', 'runc'];

const RUNS = positiveInt(process.env['BENCH_RUNS'], 15);
const HEAVY_RUNS = positiveInt(process.env['BENCH_HEAVY_RUNS'], 3);
const WARMUP = 2;
const CONCURRENT = 20;
const LIST_SIZES = [1, 100, 1000];
const RUNC = process.env['RUNC'] ?? 'runc';

function positiveInt(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-bench-'));
const roots: Record<Runtime, string> = { tsrunc: path.join(work, 'tsrunc-root'), runc: path.join(work, 'runc-root') };
const logFile = path.join(work, 'commands.log');
const logFd = fs.openSync(logFile, 'a');
/** Containers made through the runtime (deleted with --force at the end); list copies are not here. */
const live: Record<Runtime, Set<string>> = { tsrunc: new Set(), runc: new Set() };
let interrupted = false;

function commandOf(runtime: Runtime, args: string[]): [string, string[]] {
  return runtime === 'tsrunc'
    ? [process.execPath, [tsruncMain, '--root', roots.tsrunc, ...args]]
    : [RUNC, ['--root', roots.runc, ...args]];
}

interface Ran {
  ms: number;
  stdout: string;
}

/** Runs one command to completion and times it; a failure stops the bench (with the log's tail). */
function timed(command: string, args: string[], captureStdout = false): Ran {
  fs.writeSync(logFd, `$ ${command} ${args.join(' ')}\n`);
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', captureStdout ? 'pipe' : logFd, logFd], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    throw new Error(`${command} ${args.join(' ')}: exit ${result.status ?? result.signal}\n${tail}`);
  }
  return { ms, stdout: captureStdout ? result.stdout : '' };
}

function rt(runtime: Runtime, args: string[], captureStdout = false): Ran {
  const [command, full] = commandOf(runtime, args);
  const ran = timed(command, full, captureStdout);
  const verb = args[0];
  const id = args[args.length - 1]!;
  if (verb === 'create' || (verb === 'run' && args.includes('--detach'))) live[runtime].add(id);
  if (verb === 'delete' || verb === 'run') {
    if (verb === 'delete' || !args.includes('--detach')) live[runtime].delete(id);
  }
  return ran;
}

function bundleWith(name: string, args: string[]): string {
  const config = JSON.parse(fs.readFileSync(path.join(repoRoot, 'bundle-examples', 'busybox', 'config.json'), 'utf8')) as {
    process: { args: string[] };
    root: { path: string };
  };
  config.process.args = args;
  config.root.path = fs.realpathSync(busyboxRootfs); // runc refuses a rootfs path through a symlink
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

const trueBundle = bundleWith('bundle-true', ['/bin/true']);
const sleepBundle = bundleWith('bundle-sleep', ['sleep', '1000000']);

let serial = 0;
/** Distinct ids per runtime, so that runc's and tsrunc's cgroups never meet. */
const newId = (runtime: Runtime, tag: string) => `${runtime === 'tsrunc' ? 't' : 'r'}-${tag}-${++serial}`;

function statePid(runtime: Runtime, id: string): number {
  return (JSON.parse(rt(runtime, ['state', id], true).stdout) as { pid: number }).pid;
}

function createRunning(runtime: Runtime, tag: string): string {
  const id = newId(runtime, tag);
  rt(runtime, ['create', '--bundle', sleepBundle, id]);
  rt(runtime, ['start', id]);
  return id;
}

function isDead(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

async function waitDead(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!isDead(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} did not die`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Yields to the event loop (so Ctrl-C is seen) and stops the bench when asked to. */
async function checkpoint(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (interrupted) throw new Error('interrupted');
}

interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

const mean = (samples: number[]) => samples.reduce((sum, value) => sum + value, 0) / samples.length;

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples };
}

interface CaseResult {
  name: string;
  unit: 'ms' | 'KiB';
  tsrunc: Stats;
  runc?: Stats;
  /** `node -e 0` timed in the same rounds (option withFloor): the verb targets' yardstick under the same load. */
  nodeFloor?: Stats;
}

const results: CaseResult[] = [];

/**
 * One case: `setup` (untimed) then `measure` (returns the figure) then `teardown` (untimed),
 * alternating runtimes and which goes first, WARMUP unrecorded rounds, then `runs` rounds.
 */
async function interleaved(
  name: string,
  measure: (runtime: Runtime, round: number) => number | Promise<number>,
  options: { runs?: number; runtimes?: Runtime[]; unit?: 'ms' | 'KiB'; warmup?: number; withFloor?: boolean } = {},
): Promise<CaseResult> {
  const runtimes = options.runtimes ?? RUNTIMES;
  const samples: Record<Runtime, number[]> = { tsrunc: [], runc: [] };
  const floor: number[] = [];
  const rounds = (options.warmup ?? WARMUP) + (options.runs ?? RUNS);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runtimes : [...runtimes].reverse();
    for (const runtime of order) {
      await checkpoint();
      const figure = await measure(runtime, round);
      if (round >= (options.warmup ?? WARMUP)) samples[runtime].push(figure);
    }
    if (options.withFloor) {
      const ms = timed(process.execPath, ['-e', '0']).ms;
      if (round >= (options.warmup ?? WARMUP)) floor.push(ms);
    }
  }
  const result: CaseResult = { name, unit: options.unit ?? 'ms', tsrunc: stats(samples.tsrunc) };
  if (runtimes.includes('runc')) result.runc = stats(samples.runc);
  if (options.withFloor) result.nodeFloor = stats(floor);
  results.push(result);
  printRow(result);
  return result;
}

const fmt = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const cell = (s: Stats | undefined) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '-');

function printRow(result: CaseResult): void {
  const ratio = result.runc ? `${(result.tsrunc.median / result.runc.median).toFixed(2)}×` : '';
  const floor = result.nodeFloor ? `  (node -e 0 meanwhile: ${cell(result.nodeFloor)})` : '';
  console.log(
    `${result.name.padEnd(34)} ${cell(result.tsrunc).padStart(24)} ${cell(result.runc).padStart(24)} ${ratio.padStart(8)}  ${result.unit}${floor}`,
  );
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU time of this process's reaped children so far (cutime + cstime), in clock ticks. */
function childCpuTicks(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

/** The pieces of /proc/PID/smaps_rollup that say what a process holds, in KiB. */
function memoryOf(pid: number): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match) figures[match[1]!] = Number(match[2]);
  }
  return figures;
}

/** Copies a created container's state directory `count - 1` times (ids changed): list reads them all. */
function fillRoot(runtime: Runtime, original: string, count: number, copies: string[]): void {
  const source = path.join(roots[runtime], original);
  const entries = fs.readdirSync(source, { withFileTypes: true });
  const fifos: string[] = [];
  for (let i = copies.length + 1; i < count; i++) {
    const id = `${original}-copy${i}`;
    const target = path.join(roots[runtime], id);
    fs.mkdirSync(target, { mode: 0o711 });
    copies.push(target);
    for (const entry of entries) {
      const from = path.join(source, entry.name);
      if (entry.isFIFO()) fifos.push(path.join(target, entry.name));
      else if (entry.name === 'state.json') {
        const state = JSON.parse(fs.readFileSync(from, 'utf8')) as { id: string };
        state.id = id;
        fs.writeFileSync(path.join(target, entry.name), JSON.stringify(state));
      } else if (entry.isFile()) fs.copyFileSync(from, path.join(target, entry.name));
    }
  }
  for (let i = 0; i < fifos.length; i += 200) timed('mkfifo', ['-m', '622', ...fifos.slice(i, i + 200)]);
}

async function main(): Promise<void> {
  console.log(`tsrunc ${tsruncMain}\nrunc   ${RUNC}: ${timed(RUNC, ['--version'], true).stdout.split('\n')[0]}`);
  console.log(`${RUNS} runs per case (${HEAVY_RUNS} for the concurrent and memory cases), after ${WARMUP} warm-up rounds; ${os.cpus().length} CPUs; work dir ${work}\n`);
  console.log(`${'case'.padEnd(34)} ${'tsrunc median (min–max)'.padStart(24)} ${'runc median (min–max)'.padStart(24)} ${'ratio'.padStart(8)}`);

  // 7. The floor: Node's own start-up, and Node loading tsrunc's entry file (--version returns at once).
  const emptyModule = path.join(work, 'empty.mjs');
  fs.writeFileSync(emptyModule, '');
  const nodeFloor = await interleaved('floor: node -e 0', () => timed(process.execPath, ['-e', '0']).ms, { runtimes: ['tsrunc'] });
  await interleaved('floor: node empty.mjs', () => timed(process.execPath, [emptyModule]).ms, { runtimes: ['tsrunc'] });
  await interleaved('floor: --version (entry file only)', (runtime) => rt(runtime, ['--version']).ms);

  // 1. run of /bin/true, attached.
  const run = await interleaved('run /bin/true (attached)', (runtime) => rt(runtime, ['run', '--bundle', trueBundle, newId(runtime, 'run')]).ms);

  // 2. One full cycle. `delete --force`: runc's kill returns before the init is gone, and so
  //    may tsrunc's; --force waits for it instead of racing it.
  const cycleSteps: [string, (id: string) => string[]][] = [
    ['create', (id) => ['create', '--bundle', sleepBundle, id]],
    ['start', (id) => ['start', id]],
    ['state', (id) => ['state', id]],
    ['kill', (id) => ['kill', id, 'KILL']],
    ['delete', (id) => ['delete', '--force', id]],
  ];
  const stepSamples: Record<string, Record<Runtime, number[]>> = {};
  for (const [step] of cycleSteps) stepSamples[step] = { tsrunc: [], runc: [] };
  const cycle = await interleaved('cycle create→start→state→kill→delete', (runtime, round) => {
    const id = newId(runtime, 'cycle');
    let total = 0;
    for (const [step, args] of cycleSteps) {
      const { ms } = rt(runtime, args(id));
      if (round >= WARMUP) stepSamples[step]![runtime].push(ms);
      total += ms;
    }
    return total;
  });
  for (const [step] of cycleSteps) {
    const result: CaseResult = {
      name: `  cycle step: ${step}`, unit: 'ms', tsrunc: stats(stepSamples[step]!.tsrunc), runc: stats(stepSamples[step]!.runc),
    };
    results.push(result);
    printRow(result);
  }

  // 3. Each verb alone on an existing container.
  const existing: Record<Runtime, string> = { tsrunc: createRunning('tsrunc', 'verb'), runc: createRunning('runc', 'verb') };
  const verbs: Record<string, CaseResult> = {};
  const cpu: Record<string, CaseResult> = {};
  const withFloor = { withFloor: true };
  verbs['state'] = await interleaved('state (running container)', (runtime) => rt(runtime, ['state', existing[runtime]]).ms, withFloor);
  verbs['list'] = await interleaved('list (1 container)', (runtime) => rt(runtime, ['list']).ms, withFloor);
  verbs['kill'] = await interleaved('kill KILL (running container)', (runtime) => {
    const id = createRunning(runtime, 'kill');
    const ms = rt(runtime, ['kill', id, 'KILL']).ms;
    rt(runtime, ['delete', '--force', id]);
    return ms;
  }, withFloor);
  // exec of /bin/true into the running container: the stage joins its namespaces and execs.
  const exec = await interleaved('exec /bin/true (running container)', (runtime) => rt(runtime, ['exec', existing[runtime], '/bin/true']).ms, withFloor);
  verbs['delete'] = await interleaved('delete (stopped container)', async (runtime) => {
    const id = createRunning(runtime, 'del');
    const pid = statePid(runtime, id);
    rt(runtime, ['kill', id, 'KILL']);
    await waitDead(pid);
    return rt(runtime, ['delete', id]).ms;
  }, withFloor);
  // The same verbs in CPU time (user + sys of every thread, from this process's cutime/cstime),
  // node -e 0, state and list in turn in each round: unlike wall time, it hardly moves when
  // other work shares the machine. Ticks are 10 ms, so the targets use the mean of many runs.
  const cpuCommands: Record<string, [string, string[]]> = {
    node: [process.execPath, ['-e', '0']],
    state: commandOf('tsrunc', ['state', existing.tsrunc]),
    list: commandOf('tsrunc', ['list']),
  };
  const cpuSamples: Record<string, number[]> = { node: [], state: [], list: [] };
  for (let round = 0; round < WARMUP + RUNS * 2; round++) {
    await checkpoint();
    for (const [name, [command, args]] of Object.entries(cpuCommands)) {
      const before = childCpuTicks();
      timed(command, args);
      if (round >= WARMUP) cpuSamples[name]!.push(((childCpuTicks() - before) * 1000) / CLOCK_TICKS);
    }
  }
  for (const name of Object.keys(cpuCommands)) {
    const label = `cpu: ${name === 'node' ? 'node -e 0' : name}, mean ${mean(cpuSamples[name]!).toFixed(1)}`;
    cpu[name] = { name: label, unit: 'ms', tsrunc: stats(cpuSamples[name]!) };
    results.push(cpu[name]!);
    printRow(cpu[name]!);
  }
  for (const runtime of RUNTIMES) rt(runtime, ['delete', '--force', existing[runtime]]);

  // 4. list with 1, 100 and 1000 containers: one created container and copies of its state directory.
  const listed: Record<Runtime, string> = { tsrunc: newId('tsrunc', 'list'), runc: newId('runc', 'list') };
  const copies: Record<Runtime, string[]> = { tsrunc: [], runc: [] };
  const listBy: Record<number, CaseResult> = {};
  try {
    for (const runtime of RUNTIMES) rt(runtime, ['create', '--bundle', sleepBundle, listed[runtime]]);
    for (const size of LIST_SIZES) {
      for (const runtime of RUNTIMES) fillRoot(runtime, listed[runtime], size, copies[runtime]);
      listBy[size] = await interleaved(`list (${size} container${size === 1 ? '' : 's'} present)`, (runtime) => {
        const ran = rt(runtime, ['list', '--format', 'json'], true);
        const count = (JSON.parse(ran.stdout) as unknown[] | null)?.length ?? 0;
        if (count !== size) throw new Error(`${runtime} list showed ${count} containers, not ${size}`);
        return ran.ms;
      });
    }
  } finally {
    // Copies only: deleting one through the runtime would kill the original's init.
    for (const runtime of RUNTIMES) for (const dir of copies[runtime]) fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const runtime of RUNTIMES) rt(runtime, ['delete', '--force', listed[runtime]]);

  // 5. 20 containers created and started concurrently: wall time until all run.
  const concurrent = await interleaved(`${CONCURRENT} concurrent create+start`, async (runtime) => {
    const ids = Array.from({ length: CONCURRENT }, () => newId(runtime, 'conc'));
    const start = process.hrtime.bigint();
    await Promise.all(ids.map(async (id) => {
      live[runtime].add(id);
      await spawned(runtime, ['create', '--bundle', sleepBundle, id]);
      await spawned(runtime, ['start', id]);
    }));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    for (const id of ids) rt(runtime, ['delete', '--force', id]);
    return ms;
  }, { runs: HEAVY_RUNS, warmup: 1 });

  // 6. Private memory of a created container's init, waiting for start (runc's: `runc init`).
  const memory: Record<Runtime, Record<string, number>[]> = { tsrunc: [], runc: [] };
  const keys = ['Pss_Anon', 'Rss', 'Private_Dirty', 'Pss'];
  const memoryResults: Record<string, CaseResult> = {};
  for (const key of keys) memoryResults[key] = { name: `waiting init ${key}`, unit: 'KiB', tsrunc: stats([0]) };
  for (let round = 0; round < HEAVY_RUNS; round++) {
    for (const runtime of RUNTIMES) {
      await checkpoint();
      const id = newId(runtime, 'mem');
      rt(runtime, ['create', '--bundle', sleepBundle, id]);
      memory[runtime].push(memoryOf(statePid(runtime, id)));
      rt(runtime, ['delete', '--force', id]);
    }
  }
  for (const key of keys) {
    const result: CaseResult = {
      name: `waiting init ${key}`,
      unit: 'KiB',
      tsrunc: stats(memory.tsrunc.map((m) => m[key] ?? 0)),
      runc: stats(memory.runc.map((m) => m[key] ?? 0)),
    };
    results.push(result);
    printRow(result);
  }

  // Targets from issue 6, from the figures above.
  const targets = [
    ...Object.entries(verbs).map(([verb, r]) => ({
      target: `${verb} ≤ 1.15× node -e 0`, value: r.tsrunc.median / (r.nodeFloor ?? nodeFloor.tsrunc).median, limit: 1.15,
    })),
    ...['state', 'list'].map((verb) => ({
      target: `${verb} CPU ≤ 1.15× node -e 0's`, value: mean(cpu[verb]!.tsrunc.samples) / mean(cpu['node']!.tsrunc.samples), limit: 1.15,
    })),
    { target: 'run ≤ 2.5× runc', value: run.tsrunc.median / run.runc!.median, limit: 2.5 },
    { target: 'cycle ≤ 4.5× runc', value: cycle.tsrunc.median / cycle.runc!.median, limit: 4.5 },
    { target: 'waiting init Pss_Anon ≤ 6 MiB', value: stats(memory.tsrunc.map((m) => m['Pss_Anon'] ?? 0)).median / 1024, limit: 6 },
    { target: 'list 1000 ≤ 2× list 1', value: listBy[1000]!.tsrunc.median / listBy[1]!.tsrunc.median, limit: 2 },
    // Issue 11: no Node in the container.
    { target: 'waiting init Pss_Anon ≤ 1 MiB', value: stats(memory.tsrunc.map((m) => m['Pss_Anon'] ?? 0)).median / 1024, limit: 1 },
    { target: 'run ≤ 3× runc', value: run.tsrunc.median / run.runc!.median, limit: 3 },
    { target: `${CONCURRENT} concurrent create+start ≤ 5× runc`, value: concurrent.tsrunc.median / concurrent.runc!.median, limit: 5 },
    { target: 'exec ≤ 1.3× node -e 0', value: exec.tsrunc.median / (exec.nodeFloor ?? nodeFloor.tsrunc).median, limit: 1.3 },
  ];
  console.log('\ntargets (issues 6 and 11)');
  for (const t of targets) console.log(`  ${t.value <= t.limit ? 'met    ' : 'NOT met'}  ${t.target.padEnd(34)} ${t.value.toFixed(2)}`);
  // What Node's start-up alone costs: run starts one Node process (tsrunc; the init is the native
  // stage), the cycle 5 (one per command), 20 concurrent create+start 40.
  const node = nodeFloor.tsrunc.median;
  const bounds = {
    runFloorRatio: node / run.runc!.median,
    cycleFloorRatio: (5 * node) / cycle.runc!.median,
    concurrentFloorRatio: (2 * CONCURRENT * node) / os.cpus().length / concurrent.runc!.median,
  };
  console.log(`  floor: 1 Node start-up alone is ${bounds.runFloorRatio.toFixed(2)}× runc's run; 5 are ${bounds.cycleFloorRatio.toFixed(2)}× runc's cycle;`);
  console.log(`         ${2 * CONCURRENT} on ${os.cpus().length} CPUs are ${bounds.concurrentFloorRatio.toFixed(2)}× runc's ${CONCURRENT} concurrent create+start`);

  const out = process.env['BENCH_OUT'] ?? path.join(repoRoot, 'bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(),
    runs: RUNS, heavyRuns: HEAVY_RUNS, warmup: WARMUP, tsrunc: tsruncMain, runc: RUNC,
    results, memory, targets, bounds,
  }, null, 2)}\n`);
  console.log(`\nJSON: ${out}`);
}

/** Async variant of rt for the concurrent case. */
function spawned(runtime: Runtime, args: string[]): Promise<void> {
  const [command, full] = commandOf(runtime, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, full, { stdio: ['ignore', logFd, logFd] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${full.join(' ')}: exit ${code}`))));
  });
}

/** Every container either runtime still has goes, whatever happened. */
function cleanup(): void {
  for (const runtime of RUNTIMES) {
    const present = fs.existsSync(roots[runtime]) ? fs.readdirSync(roots[runtime]) : [];
    for (const id of new Set([...live[runtime], ...present])) {
      const [command, full] = commandOf(runtime, ['delete', '--force', id]);
      spawnSync(command, full, { stdio: ['ignore', logFd, logFd] });
    }
    const leftovers = fs.existsSync(roots[runtime]) ? fs.readdirSync(roots[runtime]) : [];
    if (leftovers.length > 0) console.error(`bench: ${runtime} left ${leftovers.join(' ')} in ${roots[runtime]}`);
  }
  fs.closeSync(logFd);
  fs.rmSync(work, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (interrupted = true));

try {
  await main();
} catch (error) {
  console.error(`bench failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
