/**
 * Shared by seccomp.test.ts and seccomp-notify.test.ts: configs with a private /tmp, the allow
 * list busybox needs, the seccomp agent (seccomp-listener.js) run as a child, and strace of the
 * init between loading the filter and execve.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { Sandbox, runCommand, tsruncMain, waitFor, type JsonObject, type RunResult } from '../lib/harness.js';
import { scriptConfig } from '../lib/container-helpers.js';
import { withLinux } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const listenerScript = path.join(here, 'seccomp-listener.js');

/** What busybox sh and the applets used here need, for allow lists. */
export const BUSYBOX_SYSCALLS = [
  'access', 'arch_prctl', 'brk', 'chdir', 'clone', 'close', 'dup', 'dup2', 'dup3', 'execve', 'exit', 'exit_group',
  'faccessat', 'faccessat2', 'fcntl', 'fstat', 'futex', 'getcwd', 'getdents64', 'getegid', 'geteuid', 'getgid',
  'getpgrp', 'getpid', 'getppid', 'getrandom', 'getuid', 'ioctl', 'lseek', 'lstat', 'madvise', 'mmap', 'mprotect',
  'munmap', 'newfstatat', 'open', 'openat', 'pipe', 'pipe2', 'prctl', 'prlimit64', 'read', 'readlink', 'readv', 'rseq',
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sendfile', 'set_robust_list', 'set_tid_address', 'setpgid', 'stat',
  'statx', 'uname', 'vfork', 'wait4', 'write', 'writev',
];

/** Docker's default capability set: no CAP_SYS_ADMIN. */
export const DOCKER_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
export const DOCKER_CAP_NUMBERS = [0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29];

/** The example rootfs is shared by every test: the scripts write to a private /tmp only. */
export const tmpMount = { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] };

export function config(script: string, seccomp: JsonObject, processFields: JsonObject = {}, extra: JsonObject = {}): JsonObject {
  const base = scriptConfig(script, { processFields, overrides: extra });
  return withLinux({ ...base, mounts: [...(base['mounts'] as JsonObject[]), tmpMount] }, { seccomp });
}

let runs = 0;
/** A container id not used before in this test file. */
export function nextId(prefix: string): string {
  return `${prefix}${++runs}`;
}

/** `tsrunc run` of `cfg` in `sandbox`. */
export async function run(sandbox: Sandbox, cfg: JsonObject): Promise<RunResult> {
  return sandbox.tsrunc(['run', '--bundle', sandbox.bundle(cfg), nextId('sc')]);
}

export function newSandbox(t: Test): Sandbox {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  return sandbox;
}

export const deny = (names: string[], extra: JsonObject = {}): JsonObject => ({ names, action: 'SCMP_ACT_ERRNO', ...extra });

// ---------------------------------------------------------------------------------------------
// The test seccomp agent

export interface Listener {
  child: ChildProcess;
  events: Record<string, unknown>[];
  exited: Promise<void>;
}

/** Starts seccomp-listener.js on `socket`; resolves once it listens. */
export async function startListener(t: Test, socket: string, mode: string): Promise<Listener> {
  const child = spawn(process.execPath, [listenerScript, socket, mode, '20000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  t.ok(await waitFor(() => events.some((e) => e['event'] === 'listening'), 10_000), 'the listener listens');
  return { child, events, exited };
}

export const event = (listener: Listener, name: string) => listener.events.find((e) => e['event'] === name);

// ---------------------------------------------------------------------------------------------
// The init's own syscalls after the filter is loaded

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `tsrunc run` under strace -ff; the syscalls of the init between loading the filter and execve. */
export async function postLoadSyscalls(sandbox: Sandbox, cfg: JsonObject): Promise<{ result: RunResult; between: string[] | undefined }> {
  const id = nextId('st');
  const prefix = path.join(sandbox.dir, `strace-${id}`);
  const result = await runCommand('strace', ['-ff', '-o', prefix, process.execPath, tsruncMain, '--root', sandbox.root, 'run', '--bundle', sandbox.bundle(cfg), id], { timeoutMs: 60_000 });
  for (const file of fs.readdirSync(sandbox.dir).filter((f) => f.startsWith(`strace-${id}.`))) {
    const lines = fs.readFileSync(path.join(sandbox.dir, file), 'utf8').split('\n');
    const load = lines.findIndex((line) => /^seccomp\(SECCOMP_SET_MODE_FILTER, .*\{len=\d+/.test(line));
    if (load < 0) continue;
    const exec = lines.findIndex((line, i) => i > load && line.startsWith('execve('));
    return { result, between: lines.slice(load + 1, exec).map((line) => line.replace(/\(.*/, '')) };
  }
  return { result, between: undefined };
}
