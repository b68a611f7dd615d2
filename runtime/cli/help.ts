/**
 * --help, -h, `help [verb]` and unknown verbs, answered as runc (urfave/cli v1) answers them:
 * the NAME:/USAGE:/DESCRIPTION:/OPTIONS: sections, the flags rendered from flags.ts's table,
 * exit 0; an unknown verb (or `help <unknown>`) is "No help topic for 'X'" with status 3.
 * Managers and runc's own integration tests read this layout (help.bats greps its second line).
 */
import type { Options } from 'yargs';
import { GLOBAL_OPTIONS, VERBS, isVerb, type VerbName } from './flags.js';
import { SPEC_VERSION, TSRUNC_VERSION } from '../version.js';

/** What the help page says beyond flags.ts's one-line describe. */
interface VerbHelp {
  /** After the verb and [command options] in USAGE; may go on with paragraphs, as runc's do. */
  args?: string;
  description?: string;
  /** Flags the verb reads itself, outside flags.ts's table (spec's bare --rootless), as OPTIONS rows. */
  moreOptions?: [string, string][];
}

const ID_IS = 'Where "<container-id>" is the id the container was created with, unique under --root.';

const VERB_HELP = {
  create: {
    args: `<container-id>\n\n${ID_IS}`,
    description: `create sets the container up from the bundle (config.json and its rootfs): namespaces,
mounts, cgroup, devices, and the init process, which then waits, ready, until
"tsrunc start". "tsrunc check" lists every problem create would hit, at once.`,
  },
  start: { args: `<container-id>\n\n${ID_IS}`, description: 'start lets the init of a created container run the process of its config.json.' },
  state: { args: `<container-id>\n\n${ID_IS}`, description: 'state prints the OCI state of the container (id, pid, status, bundle, annotations) as JSON.' },
  kill: {
    args: `<container-id> [signal]\n\n${ID_IS}\n"[signal]" is a name (KILL, SIGKILL) or a number (9); SIGTERM when left out.`,
    description: 'kill signals the init of the container; with --all, every process of its cgroup.',
  },
  delete: {
    args: `<container-id>\n\n${ID_IS}`,
    description: 'delete removes a stopped container: its state, cgroup and what it still holds.\nWith --force a created or running one is killed first.',
  },
  run: {
    args: `<container-id>\n\n${ID_IS}`,
    description: `run is create and start in one: without --detach it waits for the container and exits
with its status (128+N when a signal N ended it), then deletes it unless --keep.`,
  },
  exec: {
    args: `<container-id> <command> [command options]  || -p process.json <container-id>\n\n${ID_IS}
"<command>" and what follows it run in the container; it may be left out only with -p.`,
    description: 'exec starts another process in a created or running container, in its namespaces and cgroup.',
  },
  list: {
    args: '\n\nThe containers listed are those under the global option "--root".',
    description: 'list prints the containers: a table, their ids only (-q), or their states as JSON.',
  },
  pause: { args: `<container-id>\n\n${ID_IS}`, description: "pause freezes every process of the container through its cgroup's freezer." },
  resume: { args: `<container-id>\n\n${ID_IS}`, description: 'resume thaws the processes of a paused container.' },
  update: {
    args: `<container-id>\n\n${ID_IS}`,
    description: `update writes new limits into the container's cgroup, from flags or from a
linux.resources JSON document (-r FILE, or - for stdin).`,
  },
  ps: {
    args: `<container-id> [ps options]\n\n${ID_IS}
"[ps options]" are passed to ps(1), whose output is then cut to the container's
processes; without them the table is ps -ef's, read from /proc.`,
    description: 'ps lists the processes of the container: as a table, or their host pids as JSON.',
  },
  events: {
    args: `<container-id>\n\n${ID_IS}`,
    description: 'events prints statistics of the container (cpu, memory, pids, IO) as JSON events.',
  },
  features: { description: 'features prints, as JSON, what this tsrunc supports (runtime-spec features.md).' },
  check: {
    description: `check lists everything in the bundle that would make create fail, one line each with
its JSON path, and creates nothing. Status 1 when there is a problem.`,
  },
  explain: {
    args: '[container-id]',
    description: 'explain prints the plan create would apply to the bundle, and creates nothing.',
  },
  spec: {
    description: `spec writes a starter config.json into the bundle, to edit; it never overwrites one.
With --rootless the config is one an unprivileged user can run.`,
    moreOptions: [['--rootless', "write runc's rootless config: a user namespace mapping the caller, no cgroup limits"]],
  },
  checkpoint: {
    args: `<container-id>\n\n${ID_IS}`,
    description: 'tsrunc does not implement checkpoint (it has no CRIU support): it fails and says so.',
  },
  restore: {
    args: `<container-id>\n\n${ID_IS}`,
    description: 'tsrunc does not implement restore (it has no CRIU support): it fails and says so.',
  },
} satisfies Record<VerbName, VerbHelp>;

const APP_DESCRIPTION = `tsrunc runs containers from OCI bundles: a directory with a config.json (what the
OCI runtime-spec defines) and a root filesystem. It is written in TypeScript on
Node.js and takes runc's verbs, flags, outputs and exit codes, so that managers
(containerd, podman, conmon) can run it in runc's place.

To run a container in the foreground, from its bundle directory:

    # tsrunc run [ -b bundle ] <container-id>

"<container-id>" names the container for every later command; the bundle is
the current directory unless -b says another.`;

/** The columns of a section, as Go's tabwriter (padding 2) lines them up. */
function columns(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `${left.padEnd(width)}${right}`);
}

/** One flag as urfave/cli shows it: `--name value, -n value  what it does (default: x)`. */
function flagRow(name: string, option: Options): [string, string] {
  const takesValue = option.type !== 'boolean';
  const aliases = option.alias === undefined ? [] : Array.isArray(option.alias) ? option.alias : [option.alias];
  const names = [name, ...aliases].map((n) => `${n.length === 1 ? '-' : '--'}${n}${takesValue ? ' value' : ''}`).join(', ');
  let usage = option.describe ?? (option.choices ? `select one of: ${(option.choices as readonly string[]).join(' or ')}` : '');
  const value: unknown = option.default;
  if (takesValue && typeof value === 'string' && value !== '') usage += ` (default: "${value}")`;
  else if (takesValue && typeof value === 'number') usage += ` (default: ${value})`;
  return [names, usage];
}

export function verbHelp(verb: VerbName): string {
  const spec = VERBS[verb];
  const help: VerbHelp = VERB_HELP[verb];
  const rows = [...Object.entries(spec.options as Record<string, Options>).map(([n, o]) => flagRow(n, o)), ...(help.moreOptions ?? [])];
  let text = `NAME:\n   tsrunc ${verb} - ${spec.describe}\n\nUSAGE:\n   tsrunc ${verb}`;
  text += `${rows.length > 0 ? ' [command options]' : ''} ${help.args ?? '[arguments...]'}`;
  if (help.description) text += `\n\nDESCRIPTION:\n   ${help.description}`;
  // urfave/cli ends each option row with a newline and three spaces: its pages end in "   \n".
  if (rows.length > 0) text += `\n\nOPTIONS:\n${columns(rows).map((l) => `   ${l}\n`).join('')}   `;
  return `${text}\n`;
}

export function appHelp(): string {
  const commands = columns([
    ...(Object.keys(VERBS) as VerbName[]).map((verb): [string, string] => [verb, VERBS[verb].describe]),
    ['help, h', HELP_DESCRIBE],
  ]);
  const globals = columns([
    ...Object.entries(GLOBAL_OPTIONS as Record<string, Options>).map(([n, o]) => flagRow(n, o)),
    ['--help, -h', 'show help'],
    ['--version, -v', 'print the version'],
  ]);
  return [
    'NAME:',
    '   tsrunc - Open Container Initiative runtime',
    '',
    APP_DESCRIPTION,
    '',
    'USAGE:',
    '   tsrunc [global options] command [command options] [arguments...]',
    '',
    'VERSION:',
    `   ${TSRUNC_VERSION}`,
    `spec: ${SPEC_VERSION}`,
    `node: ${process.version}`,
    '',
    'COMMANDS:',
    ...commands.map((l) => `   ${l}`),
    '',
    'GLOBAL OPTIONS:',
    ...globals.map((l) => `   ${l}`),
    '',
  ].join('\n');
}

export type HelpRequest = { kind: 'app' } | { kind: 'verb'; verb: VerbName } | { kind: 'help' } | { kind: 'unknown'; word: string };

const HELP_DESCRIBE = 'show the list of commands, or the help of one command';

/** `help -h`: the help command's own page, as urfave/cli has one. */
function helpCommandHelp(): string {
  return `NAME:\n   tsrunc help - ${HELP_DESCRIBE}\n\nUSAGE:\n   tsrunc help [command]\n`;
}

const HELP_FLAGS = new Set(['-h', '--help']);

/** Flags (of a verb, or the global ones) that take the next word as their value, as written on a command line. */
function valueFlags(options: Record<string, Options>): Set<string> {
  const flags = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type === 'boolean') continue;
    const aliases = option.alias === undefined ? [] : Array.isArray(option.alias) ? option.alias : [option.alias];
    for (const n of [name, ...aliases]) flags.add(`${n.length === 1 ? '-' : '--'}${n}`);
  }
  return flags;
}

/**
 * Whether the command line asks for help (or names no verb, or an unknown one), as runc reads
 * it: -h among the global flags or no verb at all is the main page; `help [verb]`; a verb with
 * -h among its flags. exec and ps stop reading flags at the id (what follows is the process's,
 * or ps(1)'s), as runc's do.
 */
export function helpRequest(argv: readonly string[]): HelpRequest | undefined {
  const globalValues = valueFlags(GLOBAL_OPTIONS);
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const word = argv[i]!;
    if (HELP_FLAGS.has(word)) return { kind: 'app' };
    if (globalValues.has(word)) i++;
  }
  const word = argv[i];
  if (word === undefined) return { kind: 'app' };
  if (word === 'help' || word === 'h') {
    const topic = argv[i + 1];
    if (topic === undefined) return { kind: 'app' };
    if (topic === 'help' || topic === 'h' || HELP_FLAGS.has(topic)) return { kind: 'help' };
    return isVerb(topic) ? { kind: 'verb', verb: topic } : { kind: 'unknown', word: topic };
  }
  if (!isVerb(word)) return { kind: 'unknown', word };
  const verbValues = new Set([...globalValues, ...valueFlags(VERBS[word].options as Record<string, Options>)]);
  const flagsEndAtId = word === 'exec' || word === 'ps';
  for (let j = i + 1; j < argv.length; j++) {
    const arg = argv[j]!;
    if (arg === '--') break;
    if (HELP_FLAGS.has(arg)) return { kind: 'verb', verb: word };
    if (verbValues.has(arg)) j++;
    else if (!arg.startsWith('-') && flagsEndAtId) break;
  }
  return undefined;
}

/** The help page a request asks for, or undefined for an unknown topic. */
export function helpText(request: HelpRequest): string | undefined {
  if (request.kind === 'app') return appHelp();
  if (request.kind === 'verb') return verbHelp(request.verb);
  if (request.kind === 'help') return helpCommandHelp();
  return undefined;
}

/** urfave/cli's status for a help topic (or verb) that does not exist. */
export const UNKNOWN_TOPIC_STATUS = 3;

export function unknownTopicMessage(word: string): string {
  return `No help topic for '${word}'`;
}
