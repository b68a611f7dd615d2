/**
 * The fast parser (runtime/cli/fast-argv.ts) must read a command line exactly as yargs does,
 * or leave it to yargs: the same table (flags.ts) feeds both, and this checks the result.
 */
import t from 'tap';
import yargs from 'yargs';
import { parseFast } from '../../runtime/cli/fast-argv.js';
import { PARSER_CONFIGURATION, registerCommands } from '../../runtime/cli/commands.js';
import { withGlobalOptions } from '../../runtime/cli/global-options.js';
import { GLOBAL_OPTIONS, VERBS, type VerbName } from '../../runtime/cli/flags.js';

interface Parsed {
  verb: VerbName;
  args: Record<string, unknown>;
}

/** What yargs hands the verb's handler, configured as main.ts configures it. */
async function parseWithYargs(argv: string[]): Promise<Parsed | undefined> {
  let parsed: Parsed | undefined;
  const parser = withGlobalOptions(yargs(argv)).parserConfiguration(PARSER_CONFIGURATION).strict().exitProcess(false).fail(() => undefined);
  await registerCommands(parser, async (verb, args) => {
    parsed = { verb, args };
  }).parseAsync();
  return parsed;
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** The keys a handler may read: the verb's positionals and every flag, camelCased. */
function handlerKeys(verb: VerbName): string[] {
  const spec = VERBS[verb];
  return [...Object.keys(spec.positionals), ...Object.keys({ ...GLOBAL_OPTIONS, ...spec.options }).map(camel)];
}

const agreed = [
  ['state', 'c1'],
  ['--root', '/tmp/r', 'state', 'c1'],
  ['--root=/tmp/r', '--log', '/tmp/l', '--log-format', 'json', '--debug', 'state', 'c1'],
  ['state', 'c1', '--root', '/tmp/r'],
  ['--systemd-cgroup', 'list'],
  ['list', '--format', 'json'],
  ['list', '-f', 'json', '-q'],
  ['list', '--quiet'],
  ['kill', 'c1'],
  ['kill', 'c1', 'KILL'],
  ['kill', 'c1', '9', '--all'],
  ['kill', '-a', 'c1', 'SIGTERM'],
  ['delete', 'c1'],
  ['delete', '--force', 'c1'],
  ['delete', '-f', 'c1'],
  ['start', 'c1'],
  ['create', '--bundle', '/b', 'c1'],
  ['create', '-b', '/b', '--pid-file', '/p', '--no-pivot', '--console-socket', '/s', '--preserve-fds', '2', 'c1'],
  ['create', '--preserve-fds=3', '--bundle=/b', 'c1'],
  ['run', '-d', '--bundle', '/b', 'c1'],
  ['run', '--detach', 'c1', '--pid-file', '/p'],
  ['--root', '/r', 'run', 'c1'],
  // exec as main.ts hands it over: a "--" after the id.
  ['exec', 'c1', '--', 'true'],
  ['exec', '-d', '--pid-file', '/p', 'c1', '--', 'sh', '-c', 'echo -n hi; exit 3'],
  ['exec', '-e', 'A=1', '--env', 'B=2', '-c', 'CAP_KILL', '--cap', 'CAP_CHOWN', '-g', '5', '--additional-gids', '6', 'c1', '--', 'id'],
  ['exec', '--user', '1000:1000', '--cwd', '/tmp', '--tty', '--console-socket', '/s', '--preserve-fds', '1', 'c1', '--', 'sh'],
  ['exec', '--process', '/p.json', 'c1', '--'],
];

t.test('the everyday command lines parse as yargs parses them', async (t) => {
  for (const argv of agreed) {
    const fast = parseFast(argv);
    const slow = await parseWithYargs(argv);
    t.ok(fast, `fast parser takes: ${argv.join(' ')}`);
    t.ok(slow, `yargs takes: ${argv.join(' ')}`);
    if (!fast || !slow) continue;
    t.equal(fast.verb, slow.verb, `same verb: ${argv.join(' ')}`);
    for (const key of handlerKeys(fast.verb)) {
      if (key === 'command') continue; // exec's, compared below as the handler reads it
      t.same(fast.args[key], slow.args[key], `${argv.join(' ')}: ${key}`);
    }
    if (fast.verb === 'exec') {
      const commandOf = (args: Record<string, unknown>) => [...((args['command'] as unknown[] | undefined) ?? []), ...(args['_'] as unknown[]).slice(1)].map(String);
      t.same(commandOf(fast.args), commandOf(slow.args), `${argv.join(' ')}: the command`);
    }
  }
});

t.test('anything unusual is left to yargs', async (t) => {
  const refused = [
    [],
    ['--help'],
    ['state', '--help'],
    ['state', '-h'],
    ['state'],
    ['state', 'c1', 'extra'],
    ['state', 'c1', '--bogus'],
    ['list', '--format', 'yaml'],
    ['delete', '--force=false', 'c1'],
    ['create', '--preserve-fds', 'two', 'c1'],
    ['create', '--bundle', '/a', '--bundle', '/b', 'c1'],
    ['create', '--bundle', 'c1'],
    ['kill', '-af', 'c1'],
    ['state', '--', 'c1'],
    ['exec', 'c1', 'true'],
    ['exec', 'c1', 'x', '--', 'true'],
    ['exec', '--', 'c1'],
    ['ps', 'c1'],
    ['spec'],
    ['--log-format', 'xml', 'state', 'c1'],
  ];
  for (const argv of refused) t.equal(parseFast(argv), undefined, `left to yargs: ${JSON.stringify(argv)}`);
});
