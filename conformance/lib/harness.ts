/**
 * What the conformance tests share: running the real tsrunc CLI against real bundles, each
 * test in its own --root under a temp directory, and checking that nothing is left behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from dist/conformance/lib). */
export const repoRoot = path.resolve(here, '..', '..', '..');
/** The bundle users run (tools/bundle.mjs), so that the tests exercise exactly that. */
export const tsruncMain = path.join(repoRoot, 'dist', 'bundle', 'tsrunc.cjs');
export const busyboxRootfs = path.join(repoRoot, 'bundle-examples', 'busybox', 'rootfs');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /**
   * Send stdout and stderr to this file instead of pipes. Needed for `create`: the container
   * inherits them and keeps them open after tsrunc exits, so a pipe would not close.
   */
  outputFile?: string;
  /** Added to the environment the command inherits. */
  env?: Record<string, string>;
}

/** Runs any command to completion, collecting its output. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const output = options.outputFile ? fs.openSync(options.outputFile, 'a') : undefined;
    // tap adds its processinfo loader to NODE_OPTIONS of every process a test spawns, whatever
    // env it is given; every tsrunc would load it and start three times slower than a user's.
    // env(1) takes it out again: the tests run tsrunc as users do.
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', command, ...args], {
      cwd: options.cwd,
      env: options.env ? { ...process.env, ...options.env } : undefined,
      stdio: output === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', output, output],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on(output === undefined ? 'close' : 'exit', (status, signal) => {
      clearTimeout(timer);
      if (output !== undefined) {
        fs.closeSync(output);
        stdout = stderr = fs.readFileSync(options.outputFile!, 'utf8'); // one file holds both
      }
      resolve({ status, signal, stdout, stderr });
    });
    // A command that never reads its stdin may have exited before this is written: its EPIPE
    // is no error of the test's (unhandled, it would fail the whole test file).
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** A minimal valid config running `args` in the example busybox rootfs. */
export type JsonObject = Record<string, unknown>;
export function busyboxConfig(args: string[], overrides: JsonObject = {}): JsonObject {
  return {
    ociVersion: '1.2.0',
    process: {
      args,
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      user: { uid: 0, gid: 0 },
    },
    root: { path: busyboxRootfs },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }] },
    ...overrides,
  };
}

export class Sandbox {
  readonly dir: string;
  readonly root: string;
  private bundles = 0;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-test-'));
    this.root = path.join(this.dir, 'root');
  }

  /** Writes a bundle directory with this config.json; returns its path. */
  bundle(config: JsonObject | string): string {
    const bundle = path.join(this.dir, `bundle-${++this.bundles}`);
    fs.mkdirSync(bundle);
    fs.writeFileSync(path.join(bundle, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return bundle;
  }

  tsrunc(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runCommand(process.execPath, [tsruncMain, '--root', this.root, ...args], options);
  }

  /** File that receives a created container's stdout and stderr (see RunOptions.outputFile). */
  outputOf(id: string): string {
    return path.join(this.dir, `${id}.out`);
  }

  /** `tsrunc create`, its output (and the container's) going to outputOf(id). */
  create(id: string, bundle: string, extra: string[] = []): Promise<RunResult> {
    return this.tsrunc(['create', '--bundle', bundle, ...extra, id], { outputFile: this.outputOf(id) });
  }

  /** What the container has written so far. */
  output(id: string): string {
    return fs.existsSync(this.outputOf(id)) ? fs.readFileSync(this.outputOf(id), 'utf8') : '';
  }

  /** Processes whose command line mentions this sandbox (a leaked init would). */
  processes(): number[] {
    const found: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(this.dir)) found.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return found;
  }

  /** Container ids still in this sandbox's --root. */
  leftovers(): string[] {
    return fs.existsSync(this.root) ? fs.readdirSync(this.root) : [];
  }

  /** Removes every container (killing what runs) and the temp directory. */
  async cleanup(): Promise<void> {
    for (const id of this.leftovers()) await this.tsrunc(['delete', '--force', id]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function processExists(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && !/^[ZX]/.test(stat); // a zombie has exited
}

function readStat(pid: number): string | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** Mount points under `dir` in the host's mount table: a leaked container mount shows here. */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(dir));
}
