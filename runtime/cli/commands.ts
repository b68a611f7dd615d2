/**
 * Every verb, runc's names, flags and positional order. Handlers import their implementation
 * lazily so that each command loads only what it uses (every command pays Node's start-up).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { TsruncError } from '../errors.js';
import type { GlobalArgs } from './global-options.js';
import { writeOut } from './output.js';

interface IdArgs extends GlobalArgs {
  id: string;
}

const idPositional = (y: Argv): Argv =>
  y.positional('id', { type: 'string', demandOption: true, describe: 'container id' });

/** What create and run share. */
const withCreateOptions = (y: Argv): Argv =>
  idPositional(y)
    .option('bundle', { alias: 'b', type: 'string', describe: 'bundle directory (default: current directory)' })
    .option('pid-file', { type: 'string', describe: "file to write the container init's pid to" })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot instead of pivot_root' })
    .option('console-socket', { type: 'string', describe: 'unix socket that receives the pty master (process.terminal)' })
    .option('preserve-fds', { type: 'number', default: 0, describe: 'pass N more fds (3 to 3+N-1) to the container process' });

/**
 * yargs infers argument types from builder chains, which does not survive lazy handlers;
 * each handler states the arguments it reads instead, checked against the builder by tests.
 */
function verb<A>(
  y: Argv,
  name: string,
  describe: string,
  builder: (y: Argv) => Argv,
  handler: (args: A) => Promise<void>,
): Argv {
  return y.command(name, describe, builder, handler as unknown as (args: ArgumentsCamelCase) => Promise<void>);
}

export function registerCommands(y: Argv): Argv {
  y = verb(y,
      'create <id>',
      'create a container from a bundle; it waits, ready, until start',
      withCreateOptions,
      async (args: IdArgs & { bundle?: string; pidFile?: string; noPivot: boolean; consoleSocket?: string; preserveFds: number }) => {
        const { createContainer } = await import('../container/create.js');
        await createContainer({
          root: args.root, id: args.id, bundle: args.bundle, pidFile: args.pidFile, noPivot: args.noPivot, keepChild: false,
          consoleSocket: args.consoleSocket, preserveFds: args.preserveFds,
        });
      },
    );
  y = verb(y, 'start <id>', 'start the process of a created container', idPositional, async (args: IdArgs) => {
      const { startContainer } = await import('../container/start.js');
      startContainer(args.root, args.id);
    });
  y = verb(y, 'state <id>', 'print the OCI state of a container as JSON', idPositional, async (args: IdArgs) => {
      const { containerState } = await import('../container/query.js');
      writeOut(`${JSON.stringify(containerState(args.root, args.id), null, 2)}\n`);
    });
  y = verb(y,
      'kill <id> [signal]',
      'send a signal (default SIGTERM) to the container init',
      (c: Argv) =>
        idPositional(c)
          .positional('signal', { type: 'string', default: 'SIGTERM', describe: 'KILL, SIGKILL or 9 alike' })
          .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'signal every process of the container' }),
      async (args: IdArgs & { signal: string; all: boolean }) => {
        const { parseSignal } = await import('../container/signals.js');
        const { killContainer } = await import('../container/kill.js');
        killContainer(args.root, args.id, parseSignal(args.signal), args.all);
      },
    );
  y = verb(y,
      'delete <id>',
      'delete a stopped container and everything it holds',
      (c: Argv) => idPositional(c).option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill it first if it is running' }),
      async (args: IdArgs & { force: boolean }) => {
        const { deleteContainer } = await import('../container/delete.js');
        deleteContainer(args.root, args.id, args.force);
      },
    );
  y = verb(y,
      'run <id>',
      'create and start a container; without --detach wait for it and exit with its status',
      (c: Argv) =>
        withCreateOptions(c)
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the container runs' }),
      async (args: IdArgs & { bundle?: string; pidFile?: string; noPivot: boolean; detach: boolean; consoleSocket?: string; preserveFds: number }) => {
        const { runContainer } = await import('../container/run.js');
        process.exitCode = await runContainer({
          root: args.root, id: args.id, bundle: args.bundle, pidFile: args.pidFile, noPivot: args.noPivot, detach: args.detach,
          consoleSocket: args.consoleSocket, preserveFds: args.preserveFds,
        });
      },
    );
  y = verb(y,
      'exec <id> [command..]',
      'run another process in a created or running container',
      (c: Argv) =>
        idPositional(c)
          .positional('command', { type: 'string', array: true, describe: 'the program and its arguments (or --process)' })
          .option('process', { alias: 'p', type: 'string', describe: 'process.json: the process to run (the other process flags are ignored)' })
          .option('cwd', { type: 'string', describe: 'working directory in the container' })
          .option('env', { alias: 'e', type: 'string', array: true, default: [], describe: 'KEY=VALUE to add to the environment' })
          .option('user', { alias: 'u', type: 'string', describe: 'uid[:gid]' })
          .option('additional-gids', { alias: 'g', type: 'number', array: true, default: [], describe: 'supplementary group ids' })
          .option('cap', { alias: 'c', type: 'string', array: true, default: [], describe: 'capability to add (e.g. CAP_NET_ADMIN)' })
          .option('no-new-privs', { type: 'boolean', default: false, describe: 'set no_new_privs for the process' })
          .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pty (needs --console-socket)' })
          .option('console-socket', { type: 'string', describe: 'unix socket that receives the pty master' })
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the process runs' })
          .option('pid-file', { type: 'string', describe: "file to write the process's pid to" })
          .option('preserve-fds', { type: 'number', default: 0, describe: 'pass N more fds (3 to 3+N-1) to the process' }),
      async (args: IdArgs & {
        command?: string[]; _: (string | number)[]; process?: string; cwd?: string; env: string[]; user?: string; additionalGids: number[];
        cap: string[]; noNewPrivs: boolean; tty: boolean; consoleSocket?: string; detach: boolean; pidFile?: string; preserveFds: number;
      }) => {
        const { execInContainer } = await import('../container/exec.js');
        process.exitCode = await execInContainer({
          root: args.root, id: args.id, args: [...(args.command ?? []), ...args._.slice(1)].map(String), processFile: args.process, cwd: args.cwd,
          env: args.env.map(String), user: args.user, additionalGids: args.additionalGids, caps: args.cap.map(String),
          noNewPrivs: args.noNewPrivs, tty: args.tty, detach: args.detach, pidFile: args.pidFile,
          consoleSocket: args.consoleSocket, preserveFds: args.preserveFds,
        });
      },
    );
  y = verb(y,
      'list',
      'list containers',
      (c: Argv) =>
        c
          .option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only ids' }),
      async (args: GlobalArgs & { format: 'table' | 'json'; quiet: boolean }) => {
        const { listContainers, formatTable } = await import('../container/query.js');
        const states = listContainers(args.root);
        if (args.quiet) writeOut(states.map((s) => `${s['id']}\n`).join(''));
        else if (args.format === 'json') writeOut(`${JSON.stringify(states)}\n`);
        else writeOut(formatTable(states));
      },
    );
  y = verb(y, 'pause <id>', 'freeze every process of the container', idPositional, async (args: IdArgs) => {
    const { pauseContainer } = await import('../container/pause.js');
    pauseContainer(args.root, args.id);
  });
  y = verb(y, 'resume <id>', 'thaw a paused container', idPositional, async (args: IdArgs) => {
    const { resumeContainer } = await import('../container/pause.js');
    resumeContainer(args.root, args.id);
  });
  y = verb(
    y,
    'update <id>',
    "change a running container's resource limits",
    (c: Argv) =>
      idPositional(c)
        .option('resources', { alias: 'r', type: 'string', describe: 'linux.resources JSON from this file, or - for stdin' })
        .option('blkio-weight', { type: 'number', describe: 'block IO weight, 10 to 1000' })
        .option('cpu-period', { type: 'number', describe: 'CPU CFS period in microseconds' })
        .option('cpu-quota', { type: 'number', describe: 'CPU CFS quota in microseconds' })
        .option('cpu-share', { type: 'number', describe: 'CPU shares (relative weight)' })
        .option('cpu-rt-period', { type: 'number', describe: 'CPU realtime period in microseconds' })
        .option('cpu-rt-runtime', { type: 'number', describe: 'CPU realtime runtime in microseconds' })
        .option('cpuset-cpus', { type: 'string', describe: 'CPUs to run on, e.g. 0-3,5' })
        .option('cpuset-mems', { type: 'string', describe: 'memory nodes to use, e.g. 0' })
        .option('memory', { type: 'string', describe: 'memory limit, e.g. 512m' })
        .option('memory-reservation', { type: 'string', describe: 'memory soft limit' })
        .option('memory-swap', { type: 'string', describe: 'memory plus swap limit; -1 for unlimited' })
        .option('pids-limit', { type: 'number', describe: 'maximum number of processes' }),
    async (args: IdArgs & import('../container/update.js').UpdateFlags) => {
      const { updateContainer } = await import('../container/update.js');
      updateContainer(args.root, args.id, args);
    },
  );
  y = verb(
    y,
    'ps <id>',
    "list the container's processes",
    (c: Argv) => idPositional(c).option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const }),
    async (args: IdArgs & { format: 'table' | 'json'; _: (string | number)[] }) => {
      const extra = args._.slice(1);
      if (extra.length > 0) throw new TsruncError(`ps: options for ps (${extra.join(' ')}) are not supported: tsrunc runs no host tools; use --format json`);
      const { containerPids, formatProcessTable } = await import('../container/ps.js');
      const pids = containerPids(args.root, args.id);
      writeOut(args.format === 'json' ? `${JSON.stringify(pids)}\n` : formatProcessTable(pids));
    },
  );
  y = verb(
    y,
    'events <id>',
    'print resource statistics of the container as JSON events',
    (c: Argv) =>
      idPositional(c)
        .option('stats', { type: 'boolean', default: false, describe: 'print one stats event and exit' })
        .option('interval', { type: 'string', default: '5s', describe: 'time between stats events' }),
    async (args: IdArgs & { stats: boolean; interval: string }) => {
      const { statsEvent, streamStats } = await import('../container/events.js');
      const { parseDuration } = await import('../container/units.js');
      if (args.stats) writeOut(`${JSON.stringify(statsEvent(args.root, args.id))}\n`);
      else await streamStats(args.root, args.id, parseDuration(args.interval, '--interval'), (event) => writeOut(`${JSON.stringify(event)}\n`));
    },
  );
  y = verb(y, 'features', 'print what tsrunc supports as JSON (runtime-spec features.md)', (c: Argv) => c, async () => {
    const { features } = await import('../container/features.js');
    writeOut(`${JSON.stringify(await features(), null, 2)}\n`);
  });
  y = verb(y,
      'spec',
      'write a default config.json into the bundle',
      (c: Argv) => c.option('bundle', { alias: 'b', type: 'string', describe: 'bundle directory (default: current directory)' }),
      async (args: GlobalArgs & { bundle?: string }) => {
        const { defaultConfig } = await import('../spec/default-config.js');
        const file = path.join(path.resolve(args.bundle ?? '.'), 'config.json');
        if (fs.existsSync(file)) throw new TsruncError(`File ${file} exists. Remove it first.`);
        fs.writeFileSync(file, `${JSON.stringify(defaultConfig(), null, '\t')}\n`, { mode: 0o666 });
      },
    );
  return y;
}
