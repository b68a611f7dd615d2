/**
 * What the real-client tests (containerd, podman) share: a temp directory that holds all the
 * client writes, a tsrunc wrapper the client can exec (clients want one executable path), a
 * private busybox rootfs (clients add files such as /etc/hosts to it), and the checks that
 * nothing is left behind: processes, mounts, cgroups, and the host directories the clients
 * insist on using whatever they are told.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mountsUnder, repoRoot, runCommand, tsruncMain, type RunOptions, type RunResult } from '../lib/harness.js';

export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Fails with a clear line when a client the Makefile installs is missing. */
export function requireCommand(file: string, packageName: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: install Debian's ${packageName} (make deps does)`);
}

export class ClientSandbox {
  readonly dir: string;
  readonly rootfs: string;
  /** One line per tsrunc call: the arguments the client passed. */
  readonly argvLog: string;

  constructor(name: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsrunc-${name}-`));
    this.rootfs = path.join(this.dir, 'rootfs');
    this.argvLog = path.join(this.dir, 'tsrunc-calls.log');
    execFileSync(path.join(repoRoot, 'bundle-examples', 'make-rootfs.sh'), [this.rootfs]);
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** An executable that logs its arguments and runs tsrunc with `fixedArgs` before them. */
  tsruncWrapper(fixedArgs: string[] = []): string {
    const file = this.path('tsrunc');
    const command = [process.execPath, tsruncMain, ...fixedArgs].map(shellQuote).join(' ');
    fs.writeFileSync(file, `#!/bin/sh\necho "$*" >> ${shellQuote(this.argvLog)}\nexec ${command} "$@"\n`, { mode: 0o755 });
    return file;
  }

  /** The tsrunc calls made so far, as logged by the wrapper; only those with these words if given. */
  tsruncCalls(...words: string[]): string[] {
    const calls = fs.existsSync(this.argvLog) ? fs.readFileSync(this.argvLog, 'utf8').split('\n').filter((line) => line !== '') : [];
    return calls.filter((call) => words.every((word) => call.split(' ').includes(word)));
  }

  /** Processes whose command line mentions this directory (a daemon, shim, conmon or init). */
  processes(): string[] {
    const found: string[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue; // exited, not yet reaped
        const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (cmdline.includes(this.dir)) found.push(`${entry}: ${cmdline.replace(/\0/g, ' ').trim()}`);
      } catch {
        // gone meanwhile
      }
    }
    return found;
  }

  mounts(): string[] {
    return mountsUnder(this.dir);
  }

  /** Last resort after the assertions: unmount what is left (deepest first), then remove everything. */
  remove(): void {
    for (const point of this.mounts().reverse()) {
      try {
        execFileSync('umount', ['-l', point]);
      } catch {
        // reported by the test's own mount assertion
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a command line with a pty as its stdin/stdout (`script`, from bsdutils), as `-t` clients need. */
export function runInPty(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runCommand('script', ['-qec', args.map(shellQuote).join(' '), '/dev/null'], options);
}

/**
 * Host directories a client uses whatever its configuration says (containerd's shim sockets
 * in /run/containerd/s, netavark's /run/containers/networks). Records what was there before;
 * `release` removes the directories the test made if they are empty and returns every new
 * entry that is not an empty directory (a leftover socket, file or state).
 */
export class HostDirs {
  private readonly before: Set<string>;

  constructor(private readonly roots: string[]) {
    this.before = new Set(roots.flatMap((root) => walk(root)));
  }

  release(): string[] {
    const added = this.roots.flatMap((root) => walk(root)).filter((entry) => !this.before.has(entry));
    const left: string[] = [];
    for (const entry of added.sort().reverse()) {
      try {
        if (fs.lstatSync(entry).isDirectory()) {
          fs.rmdirSync(entry);
          continue;
        }
      } catch {
        // not empty: reported below
      }
      left.push(entry);
    }
    return left.filter((entry) => fs.existsSync(entry));
  }
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const found = [dir];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(full));
    else found.push(full);
  }
  return found;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every hierarchy's directory for `relative` that exists (v1: one per controller). */
export function cgroupDirs(relative: string): string[] {
  if (!fs.existsSync(CGROUP_ROOT)) return [];
  const found: string[] = [];
  const candidates = [path.join(CGROUP_ROOT, relative)];
  for (const entry of fs.readdirSync(CGROUP_ROOT, { withFileTypes: true })) {
    if (entry.isDirectory()) candidates.push(path.join(CGROUP_ROOT, entry.name, relative));
  }
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'cgroup.procs'))) found.push(dir);
  return found;
}

/**
 * Parent cgroups a client makes and nobody removes (runc leaves them too): the containerd
 * namespace's /<ns>, podman's libpod_parent. Removes the ones the test made, deepest first;
 * returns those that could not go (a process is still in them).
 */
export class CgroupParents {
  private readonly existed: Set<string>;

  constructor(private readonly relative: string) {
    this.existed = new Set(cgroupDirs(relative));
  }

  release(): string[] {
    const left: string[] = [];
    for (const dir of cgroupDirs(this.relative)) {
      if (this.existed.has(dir)) continue;
      for (const sub of walkCgroup(dir).reverse()) {
        try {
          fs.rmdirSync(sub);
        } catch {
          left.push(sub);
        }
      }
    }
    return left;
  }
}

function walkCgroup(dir: string): string[] {
  const found = [dir];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) found.push(...walkCgroup(path.join(dir, entry.name)));
  }
  return found;
}
