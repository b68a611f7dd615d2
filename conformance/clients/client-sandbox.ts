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

/**
 * A containerd config.toml keeping all of containerd's files in the sandbox (root, state, its
 * sockets at `socket`, the opt dir) without CRI; returns its path.
 */
export function writeContainerdConfig(sandbox: ClientSandbox, socket: string): string {
  const file = sandbox.path('config.toml');
  fs.writeFileSync(file, [
    'version = 2',
    `root = "${sandbox.path('root')}"`,
    `state = "${sandbox.path('state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    // Otherwise it makes /opt/containerd.
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${sandbox.path('opt')}"`,
    '',
  ].join('\n'));
  return file;
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
  private readonly existedPlain: Set<string>;

  constructor(private readonly relative: string) {
    this.existed = new Set(cgroupDirs(relative));
    this.existedPlain = new Set(plainCgroupDirs(relative));
  }

  release(): string[] {
    // podman (cgroupfs manager, v1) also makes its conmon cgroup for the controllers in
    // /proc/cgroups this host does not mount (hugetlb, net_cls, ...): plain directories and a
    // `tasks` file on the tmpfs at /sys/fs/cgroup, which nothing else would remove.
    for (const dir of plainCgroupDirs(this.relative)) {
      if (!this.existedPlain.has(dir)) fs.rmSync(dir, { recursive: true, force: true });
    }
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

const TMPFS_MAGIC = 0x01021994;

/** `relative` under each /sys/fs/cgroup/<name> that is a plain tmpfs directory, not a cgroup. */
function plainCgroupDirs(relative: string): string[] {
  if (!fs.existsSync(CGROUP_ROOT)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(CGROUP_ROOT, { withFileTypes: true })) {
    const dir = path.join(CGROUP_ROOT, entry.name, relative);
    if (!entry.isDirectory() || !fs.existsSync(dir)) continue;
    if (fs.statfsSync(dir).type === TMPFS_MAGIC && !fs.existsSync(path.join(dir, 'cgroup.procs'))) found.push(dir);
  }
  return found;
}

function walkCgroup(dir: string): string[] {
  const found = [dir];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) found.push(...walkCgroup(path.join(dir, entry.name)));
  }
  return found;
}

/**
 * A network namespace and a mount namespace of the test's own, kept alive by bind mounts of
 * their nsfs files under the sandbox (not `ip netns add`, which would add a mount on the host's
 * /run/netns), for a client whose networking changes links, firewall rules and sysctls: run it
 * through `enter()` and all of that lands in the throwaway network namespace. In the mount
 * namespace a directory of the sandbox is bind-mounted over /run, so what the client insists on
 * keeping there (netavark's /run/containers/networks, podman's /run/netns/netns-*) stays in the
 * temp dir too. /sys is left as it is (`ip netns exec` would remount it and so hide
 * /sys/fs/cgroup, which the client and tsrunc need).
 */
export class NetnsJail {
  /** Bind-mounted on itself and private, as nsfs files of mount namespaces need. */
  readonly nsDir: string;
  readonly netFile: string;
  readonly mntFile: string;
  /** What the processes in the jail see as /run. */
  readonly runDir: string;
  private made = false;

  constructor(private readonly sandbox: ClientSandbox) {
    this.nsDir = sandbox.path('netns-jail');
    this.netFile = path.join(this.nsDir, 'net');
    this.mntFile = path.join(this.nsDir, 'mnt');
    this.runDir = sandbox.path('netns-jail-run');
  }

  async create(): Promise<void> {
    fs.mkdirSync(this.nsDir);
    fs.mkdirSync(this.runDir);
    execFileSync('mount', ['--bind', this.nsDir, this.nsDir]);
    this.made = true;
    execFileSync('mount', ['--make-private', this.nsDir]);
    fs.writeFileSync(this.netFile, '');
    fs.writeFileSync(this.mntFile, '');
    const made = await runCommand('unshare', [
      `--net=${this.netFile}`, `--mount=${this.mntFile}`, '--propagation', 'private', '--',
      'sh', '-c', `mount --bind ${shellQuote(this.runDir)} /run && ip link set lo up`,
    ]);
    if (made.status !== 0) throw new Error(`unshare: ${made.stderr}`);
  }

  /** `command args` inside the jail's network and mount namespaces. */
  run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runCommand('nsenter', [`--net=${this.netFile}`, `--mount=${this.mntFile}`, '--', command, ...args], options);
  }

  /** The jail's links, one `name kind` each (the kind from `ip -d`: bridge, veth, ...). */
  async links(): Promise<string[]> {
    const listed = await this.run('ip', ['-d', '-j', 'link', 'show']);
    const links = JSON.parse(listed.stdout || '[]') as { ifname: string; linkinfo?: { info_kind?: string } }[];
    return links.map((link) => `${link.ifname} ${link.linkinfo?.info_kind ?? ''}`.trim());
  }

  /**
   * Mount points under the sandbox or /run in the jail's mount table (a container's shm, a
   * netns file), but for the jail's own: its namespace dir, /run, and /run/netns (which podman
   * makes a shared bind mount of itself, as `ip netns add` does).
   */
  async mounts(): Promise<string[]> {
    const table = await this.run('cat', ['/proc/self/mountinfo']);
    return table.stdout
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(this.sandbox.dir) || point.startsWith('/run/'))
      .filter((point) => point !== this.nsDir && point !== '/run/netns');
  }

  /** Processes in the jail's network namespace (`pid: command line`). */
  processes(): string[] {
    if (!this.made || !fs.existsSync(this.netFile)) return [];
    const inode = fs.statSync(this.netFile).ino;
    const found: string[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.statSync(`/proc/${entry}/ns/net`).ino !== inode) continue;
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
        found.push(`${entry}: ${fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`);
      } catch {
        // gone meanwhile
      }
    }
    return found;
  }

  /**
   * Kills what still runs in the jail (only ever the test's own: nothing else can enter it),
   * then unmounts the namespace files, which ends both namespaces. Returns what had to be killed.
   */
  remove(): string[] {
    if (!this.made) return [];
    const left = this.processes();
    for (const line of left) {
      try {
        process.kill(Number(line.split(':')[0]), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const file of [this.netFile, this.mntFile, this.nsDir]) {
      try {
        execFileSync('umount', [file], { stdio: 'ignore' });
      } catch {
        // not mounted (create failed half way)
      }
    }
    this.made = false;
    return left;
  }
}

/**
 * What the host's networking looks like, to show that a test left it as it was: links, nftables
 * ruleset, iptables and ip6tables rules (packet counters and timestamps left out), forwarding
 * sysctls, named network namespaces and the mounts of /run/netns.
 */
export async function hostNetworkState(): Promise<Record<string, string>> {
  const text = async (command: string, args: string[]): Promise<string> => {
    const result = await runCommand(command, args);
    return `${result.stdout}${result.stderr}`;
  };
  const withoutCounters = (dump: string): string =>
    dump
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .map((line) => line.replace(/\[\d+:\d+\]/g, '').replace(/packets \d+ bytes \d+/g, ''))
      .join('\n');
  return {
    links: await text('ip', ['-o', 'link', 'show']),
    nft: withoutCounters(await text('nft', ['list', 'ruleset'])),
    iptables: withoutCounters(await text('iptables-save', [])),
    ip6tables: withoutCounters(await text('ip6tables-save', [])),
    ipForward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'),
    ipv6Forwarding: fs.existsSync('/proc/sys/net/ipv6/conf/all/forwarding') ? fs.readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8') : '',
    netns: await text('ip', ['netns', 'list']),
    netnsMounts: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes('/run/netns')).map((line) => line.split(' ').slice(3, 5).join(' ')).join('\n'),
  };
}
