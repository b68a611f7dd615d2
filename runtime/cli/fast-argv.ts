/**
 * The everyday command lines (a manager's create, start, state, kill, delete, list, run, exec) parsed
 * from flags.ts's table without loading yargs, which costs more than Node's own start-up.
 * Anything this parser is not sure of (--help, an unknown or repeated flag, a missing or extra
 * argument, a value yargs would coerce) returns undefined, and yargs parses it and answers
 * exactly as before.
 */
import type { Options, PositionalOptions } from 'yargs';
import { GLOBAL_OPTIONS, VERBS, isVerb, type VerbName } from './flags.js';

export const FAST_VERBS: ReadonlySet<VerbName> = new Set<VerbName>(['create', 'start', 'state', 'kill', 'delete', 'list', 'run', 'exec']);

export interface FastParse {
  verb: VerbName;
  args: Record<string, unknown>;
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

function lookupTable(options: Record<string, Options>): Map<string, [string, Options]> {
  const table = new Map<string, [string, Options]>();
  for (const [name, option] of Object.entries(options)) {
    table.set(`--${name}`, [name, option]);
    const aliases = option.alias === undefined ? [] : Array.isArray(option.alias) ? option.alias : [option.alias];
    for (const alias of aliases) table.set(alias.length === 1 ? `-${alias}` : `--${alias}`, [name, option]);
  }
  return table;
}

/** A flag's value as yargs would give it, or undefined when yargs should decide. */
function valueOf(option: Options, text: string): unknown {
  if (option.choices !== undefined) return (option.choices as readonly unknown[]).includes(text) ? text : undefined;
  if (option.type === 'number') return /^(0|[1-9][0-9]*)$/.test(text) ? Number(text) : undefined;
  if (option.type === 'string') return text;
  return undefined;
}

export function parseFast(argv: readonly string[]): FastParse | undefined {
  const globals = lookupTable(GLOBAL_OPTIONS);
  let flags = globals;
  let verb: VerbName | undefined;
  const given = new Map<string, unknown>();
  const positionals: string[] = [];
  /** exec's command, after the "--" main.ts puts after the id. */
  let command: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      if (verb !== 'exec' || positionals.length !== 1) return undefined;
      command = argv.slice(i + 1);
      break;
    }
    if (!word.startsWith('-')) {
      if (verb !== undefined) positionals.push(word);
      else if (isVerb(word) && FAST_VERBS.has(word)) {
        verb = word;
        flags = new Map([...globals, ...lookupTable(VERBS[word].options)]);
      } else return undefined;
      continue;
    }
    const equals = word.indexOf('=');
    const key = equals > 0 ? word.slice(0, equals) : word;
    const found = flags.get(key);
    if (found === undefined) return undefined; // --help, --, -, combined short flags, typos: yargs
    const [name, option] = found;
    if (given.has(name) && !option.array) return undefined; // repeated: yargs makes an array, or complains
    if (option.type === 'boolean') {
      if (equals > 0) return undefined;
      given.set(name, true);
      continue;
    }
    const text = equals > 0 ? word.slice(equals + 1) : argv[++i];
    if (text === undefined || (equals < 0 && text.startsWith('-'))) return undefined;
    const value = valueOf(option, text);
    if (value === undefined) return undefined;
    given.set(name, option.array ? [...((given.get(name) as unknown[] | undefined) ?? []), value] : value);
  }
  if (verb === undefined) return undefined;
  const spec = VERBS[verb];
  const names = Object.keys(spec.positionals);
  if (positionals.length > names.length) return undefined;
  const args: Record<string, unknown> = { _: [verb] };
  for (const [index, name] of names.entries()) {
    const positional: PositionalOptions = spec.positionals[name as keyof typeof spec.positionals];
    if (positional.array) {
      if (positionals.length > index) return undefined; // a command without "--": yargs
      args[name] = command ?? [];
      continue;
    }
    const value = positionals[index] ?? positional.default;
    if (value === undefined && positional.demandOption) return undefined;
    if (value !== undefined) args[name] = value;
  }
  for (const [name, option] of Object.entries({ ...GLOBAL_OPTIONS, ...spec.options } as Record<string, Options>)) {
    const value = given.has(name) ? given.get(name) : option.default;
    if (value !== undefined) args[camel(name)] = value;
  }
  return { verb, args };
}

/** exec's flags that take a value (runc's names), to find where `exec <id> <command...>` starts. */
const EXEC_VALUE_FLAGS = new Set([
  '--process', '-p', '--cwd', '--env', '-e', '--user', '-u', '--additional-gids', '-g', '--cap', '-c',
  '--console-socket', '--pid-file', '--preserve-fds', '--process-label', '--apparmor', '--cgroup',
]);

/** ps's flags that take a value; what follows its id is ps(1)'s options. */
const PS_VALUE_FLAGS = new Set(['--format', '-f']);

/**
 * `exec <id> sh -c 'x'`: everything after the id is the command, flags and all, as in runc;
 * `ps <id> -e -x` likewise hands ps(1) its options. A "--" after the id tells yargs so (unless
 * one is there already).
 */
export function separateExecCommand(argv: string[]): string[] {
  const verb = argv.findIndex(isVerb);
  if (verb < 0 || (argv[verb] !== 'exec' && argv[verb] !== 'ps')) return argv;
  const valueFlags = argv[verb] === 'exec' ? EXEC_VALUE_FLAGS : PS_VALUE_FLAGS;
  for (let i = verb + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv;
    if (arg.startsWith('-')) {
      if (valueFlags.has(arg)) i++;
      continue;
    }
    // arg is the id
    if (i + 1 < argv.length && argv[i + 1] !== '--') return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
    return argv;
  }
  return argv;
}
