/**
 * Every flag and positional of every verb, runc's names and order: the one table that both
 * yargs (commands.ts, for --help, errors and the rarer verbs) and the fast parser
 * (fast-argv.ts, for the everyday verbs) read. Types only from yargs: this loads nothing.
 */
import type { Options, PositionalOptions } from 'yargs';

/** runc's rule: without root, state goes under $XDG_RUNTIME_DIR (a per-user, private tmpfs). */
const xdgRuntimeDir = process.env['XDG_RUNTIME_DIR'];
export const DEFAULT_ROOT = process.geteuid?.() !== 0 && xdgRuntimeDir ? `${xdgRuntimeDir}/tsrunc` : '/run/tsrunc';

/** Flags every verb takes, before or after the verb (yargs: global). */
export const GLOBAL_OPTIONS = {
  root: { type: 'string', default: DEFAULT_ROOT, describe: 'directory for container state', global: true },
  log: { type: 'string', describe: 'write log lines to this file (default: stderr)', global: true },
  'log-format': { choices: ['text', 'json'], default: 'text', describe: 'log line format', global: true },
  debug: { type: 'boolean', default: false, describe: 'log debug lines', global: true },
  'systemd-cgroup': { type: 'boolean', default: false, describe: 'make each container\'s cgroup a transient systemd scope (cgroupsPath "slice:prefix:name"; cgroup v2 hosts with systemd)', global: true },
  rootless: { choices: ['true', 'false', 'auto'], default: 'auto', describe: "treat as rootless: cgroups only where delegated ('auto': when not root)", global: true },
} satisfies Record<string, Options>;

export interface VerbSpec {
  /** yargs's command string: the verb and its positionals. */
  command: string;
  describe: string;
  positionals: Record<string, PositionalOptions>;
  options: Record<string, Options>;
}

const id: Record<string, PositionalOptions> = { id: { type: 'string', demandOption: true, describe: 'container id' } };

/** What create and run share. */
const createOptions: Record<string, Options> = {
  bundle: { alias: 'b', type: 'string', describe: 'bundle directory (default: current directory)' },
  'pid-file': { type: 'string', describe: "file to write the container init's pid to" },
  'no-pivot': { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot instead of pivot_root' },
  'console-socket': { type: 'string', describe: 'unix socket that receives the pty master (process.terminal)' },
  'preserve-fds': { type: 'number', default: 0, describe: 'pass N more fds (3 to 3+N-1) to the container process' },
  'no-new-keyring': { type: 'boolean', default: false, describe: "keep the caller's session keyring instead of a new one for the container" },
};

const tableFormat: Options = { alias: 'f', choices: ['table', 'json'], default: 'table' };

export const VERBS = {
  create: { command: 'create <id>', describe: 'create a container from a bundle; it waits, ready, until start', positionals: id, options: createOptions },
  start: { command: 'start <id>', describe: 'start the process of a created container', positionals: id, options: {} },
  state: { command: 'state <id>', describe: 'print the OCI state of a container as JSON', positionals: id, options: {} },
  kill: {
    command: 'kill <id> [signal]',
    describe: 'send a signal (default SIGTERM) to the container init',
    positionals: { ...id, signal: { type: 'string', default: 'SIGTERM', describe: 'KILL, SIGKILL or 9 alike' } },
    options: { all: { alias: 'a', type: 'boolean', default: false, describe: 'signal every process of the container' } },
  },
  delete: {
    command: 'delete <id>',
    describe: 'delete a stopped container and everything it holds',
    positionals: id,
    options: { force: { alias: 'f', type: 'boolean', default: false, describe: 'kill it first if it is running' } },
  },
  run: {
    command: 'run <id>',
    describe: 'create and start a container; without --detach wait for it and exit with its status',
    positionals: id,
    options: {
      ...createOptions,
      detach: { alias: 'd', type: 'boolean', default: false, describe: 'return once the container runs' },
      keep: { type: 'boolean', default: false, describe: 'do not delete the container after it exits' },
      'no-subreaper': { type: 'boolean', default: false, describe: "do not become the subreaper of the container's orphaned processes" },
    },
  },
  exec: {
    command: 'exec <id> [command..]',
    describe: 'run another process in a created or running container',
    positionals: { ...id, command: { type: 'string', array: true, describe: 'the program and its arguments (or --process)' } },
    options: {
      process: { alias: 'p', type: 'string', describe: 'process.json: the process to run (the other process flags are ignored)' },
      cwd: { type: 'string', describe: 'working directory in the container' },
      env: { alias: 'e', type: 'string', array: true, default: [], describe: 'KEY=VALUE to add to the environment' },
      user: { alias: 'u', type: 'string', describe: 'uid[:gid]' },
      'additional-gids': { alias: 'g', type: 'number', array: true, default: [], describe: 'supplementary group ids' },
      cap: { alias: 'c', type: 'string', array: true, default: [], describe: 'capability to add (e.g. CAP_NET_ADMIN)' },
      'no-new-privs': { type: 'boolean', default: false, describe: 'set no_new_privs for the process' },
      tty: { alias: 't', type: 'boolean', default: false, describe: 'allocate a pty (relayed by tsrunc unless --console-socket or --detach)' },
      'console-socket': { type: 'string', describe: 'unix socket that receives the pty master' },
      detach: { alias: 'd', type: 'boolean', default: false, describe: 'return once the process runs' },
      'pid-file': { type: 'string', describe: "file to write the process's pid to" },
      'preserve-fds': { type: 'number', default: 0, describe: 'pass N more fds (3 to 3+N-1) to the process' },
      apparmor: { type: 'string', describe: 'AppArmor profile for the process' },
      'process-label': { type: 'string', describe: 'SELinux label for the process' },
      cgroup: { type: 'string', array: true, default: [], describe: 'run in an existing sub-cgroup: [CONTROLLER[,CONTROLLER...]:]PATH' },
      'ignore-paused': { type: 'boolean', default: false, describe: 'exec in a paused container too (the process starts once it is resumed)' },
    },
  },
  list: {
    command: 'list',
    describe: 'list containers',
    positionals: {},
    options: { format: tableFormat, quiet: { alias: 'q', type: 'boolean', default: false, describe: 'print only ids' } },
  },
  pause: { command: 'pause <id>', describe: 'freeze every process of the container', positionals: id, options: {} },
  resume: { command: 'resume <id>', describe: 'thaw a paused container', positionals: id, options: {} },
  update: {
    command: 'update <id>',
    describe: "change a running container's resource limits",
    positionals: id,
    options: {
      resources: { alias: 'r', type: 'string', describe: 'linux.resources JSON from this file, or - for stdin' },
      'blkio-weight': { type: 'number', describe: 'block IO weight, 10 to 1000' },
      'cpu-period': { type: 'number', describe: 'CPU CFS period in microseconds' },
      'cpu-quota': { type: 'number', describe: 'CPU CFS quota in microseconds' },
      'cpu-share': { type: 'number', describe: 'CPU shares (relative weight)' },
      'cpu-rt-period': { type: 'number', describe: 'CPU realtime period in microseconds' },
      'cpu-rt-runtime': { type: 'number', describe: 'CPU realtime runtime in microseconds' },
      'cpuset-cpus': { type: 'string', describe: 'CPUs to run on, e.g. 0-3,5' },
      'cpuset-mems': { type: 'string', describe: 'memory nodes to use, e.g. 0' },
      memory: { type: 'string', describe: 'memory limit, e.g. 512m' },
      'memory-reservation': { type: 'string', describe: 'memory soft limit' },
      'memory-swap': { type: 'string', describe: 'memory plus swap limit; -1 for unlimited' },
      'pids-limit': { type: 'number', describe: 'maximum number of processes' },
    },
  },
  ps: { command: 'ps <id>', describe: "list the container's processes", positionals: id, options: { format: tableFormat } },
  events: {
    command: 'events <id>',
    describe: 'print resource statistics of the container as JSON events',
    positionals: id,
    options: {
      stats: { type: 'boolean', default: false, describe: 'print one stats event and exit' },
      interval: { type: 'string', default: '5s', describe: 'time between stats events' },
    },
  },
  features: { command: 'features', describe: 'print what tsrunc supports as JSON (runtime-spec features.md)', positionals: {}, options: {} },
  check: {
    command: 'check',
    describe: 'list everything in a bundle that would make create fail, without creating anything',
    positionals: {},
    options: {
      bundle: { alias: 'b', type: 'string', describe: 'bundle directory (default: current directory)' },
      format: { alias: 'f', choices: ['text', 'json'], default: 'text' },
    },
  },
  explain: {
    command: 'explain [id]',
    describe: 'print what create would do with a bundle (the plan), without doing it',
    positionals: { id: { type: 'string', default: 'explain', describe: 'the container id create would get (it names the state directory and the default cgroup)' } },
    options: {
      bundle: { alias: 'b', type: 'string', describe: 'bundle directory (default: current directory)' },
      format: { alias: 'f', choices: ['text', 'json'], default: 'text' },
      'no-pivot': createOptions['no-pivot']!,
      'no-new-keyring': createOptions['no-new-keyring']!,
      'console-socket': createOptions['console-socket']!,
    },
  },
  // runc's verbs tsrunc does not implement (no CRIU): present so that their help and their
  // failure say so, instead of an unknown verb.
  checkpoint: { command: 'checkpoint <id>', describe: 'checkpoint a running container (not implemented: tsrunc has no CRIU support)', positionals: id, options: {} },
  restore: { command: 'restore <id>', describe: 'restore a container from a checkpoint (not implemented: tsrunc has no CRIU support)', positionals: id, options: {} },
  spec: {
    command: 'spec',
    describe: 'write a default config.json into the bundle (--rootless: one an unprivileged user can run, as runc spec --rootless)',
    positionals: {},
    options: { bundle: { alias: 'b', type: 'string', describe: 'bundle directory (default: current directory)' } },
  },
} satisfies Record<string, VerbSpec>;

export type VerbName = keyof typeof VERBS;

export function isVerb(word: string): word is VerbName {
  return Object.prototype.hasOwnProperty.call(VERBS, word);
}
