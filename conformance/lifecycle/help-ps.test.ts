/**
 * What runc's integration tests help.bats and ps.bats (v1.1.5) check, here with tap: help pages
 * in runc's layout, `help [verb]`, unknown verbs, ps with ps(1) options showing the container's
 * processes only, and ps of a stopped container. Where Debian's runc is installed, the same
 * command lines run with it too and must answer alike (exit status, page layout).
 */
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, runCommand, waitFor, type RunResult } from '../lib/harness.js';
import { VERBS, type VerbName } from '../../runtime/cli/flags.js';

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((file) => fs.existsSync(file));
const verbs = Object.keys(VERBS) as VerbName[];

/** The section headers of a help page, in order: NAME:, USAGE:, ... */
const sections = (page: string) => page.split('\n').filter((line) => /^[A-Z][A-Z ]*:$/.test(line));

t.test('-h and --help print the main page in runc layout', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const flag of ['-h', '--help']) {
    const result = await sandbox.tsrunc([flag]);
    t.equal(result.status, 0, `${flag} succeeds`);
    const lines = result.stdout.split('\n');
    t.equal(lines[0], 'NAME:', `${flag}: first line`);
    // help.bats: lines[1] =~ runc\ '-'\ Open\ Container\ Initiative\ runtime
    t.equal(lines[1], '   tsrunc - Open Container Initiative runtime', `${flag}: second line`);
    t.same(sections(result.stdout), ['NAME:', 'USAGE:', 'VERSION:', 'COMMANDS:', 'GLOBAL OPTIONS:'], `${flag}: sections`);
    const commands = result.stdout.slice(result.stdout.indexOf('COMMANDS:'), result.stdout.indexOf('GLOBAL OPTIONS:'));
    for (const verb of verbs) t.match(commands, new RegExp(`^   ${verb} +\\S`, 'm'), `${verb} is listed`);
    t.match(commands, /^ {3}help, h +\S/m, 'help is listed');
    t.match(result.stdout, /^ {3}--root value +directory for container state \(default: "[^"]+"\)$/m, 'a global flag with its value and default');
  }
  // No verb at all: the main page too, status 0, as runc.
  const bare = await sandbox.tsrunc([]);
  t.equal(bare.status, 0);
  t.equal(bare.stdout.split('\n')[1], '   tsrunc - Open Container Initiative runtime');
  t.equal((await sandbox.tsrunc(['help'])).stdout, bare.stdout, 'help without a topic is the main page');
});

t.test('every verb -h and --help: NAME with "tsrunc <verb>", USAGE, OPTIONS', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const verb of verbs) {
    const short = await sandbox.tsrunc([verb, '-h']);
    const long = await sandbox.tsrunc([verb, '--help']);
    t.equal(short.status, 0, `${verb} -h succeeds`);
    t.equal(long.stdout, short.stdout, `${verb}: --help is -h`);
    const lines = short.stdout.split('\n');
    t.equal(lines[0], 'NAME:', `${verb}: first line`);
    t.match(lines[1], new RegExp(`^ {3}tsrunc ${verb} - \\S`), `${verb}: the name line help.bats reads`);
    t.equal(lines[3], 'USAGE:', `${verb}: USAGE follows`);
    t.match(lines[4], new RegExp(`^ {3}tsrunc ${verb}( \\[command options\\])? `), `${verb}: usage line`);
    const options = Object.keys(VERBS[verb].options);
    if (options.length > 0) {
      t.ok(sections(short.stdout).includes('OPTIONS:'), `${verb}: OPTIONS section`);
      for (const option of options) t.match(short.stdout, new RegExp(`^ {3}--${option}\\b`, 'm'), `${verb}: --${option} listed`);
      t.ok(short.stdout.endsWith('\n   \n'), `${verb}: ends as urfave/cli's pages do`);
    }
    t.equal((await sandbox.tsrunc(['help', verb])).stdout, short.stdout, `help ${verb} is ${verb} -h`);
  }
  t.equal((await sandbox.tsrunc(['h', 'state'])).stdout, (await sandbox.tsrunc(['state', '-h'])).stdout, 'h is help');
  const helpOfHelp = await sandbox.tsrunc(['help', '-h']);
  t.equal(helpOfHelp.status, 0, 'help -h succeeds');
  t.match(helpOfHelp.stdout, /^NAME:\n {3}tsrunc help - \S.*\n\nUSAGE:\n {3}tsrunc help \[command\]\n$/, "help -h: the help command's own page");
  t.equal((await sandbox.tsrunc(['state', 'someid', '-h'])).status, 0, 'a verb -h after its id is help too');
  t.match((await sandbox.tsrunc(['--help', 'state'])).stdout.split('\n')[1], /^ {3}tsrunc - /, 'a global --help is the main page');
  t.match((await sandbox.tsrunc(['spec', '--help'])).stdout, /^ {3}--rootless +\S/m, "spec's own --rootless is listed");
});

t.test('an unknown verb or help topic: "No help topic", status 3', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const args of [['foo'], ['foo', '-h'], ['help', 'foo'], ['--debug', 'foo', 'x']]) {
    const result = await sandbox.tsrunc(args);
    t.equal(result.status, 3, `${args.join(' ')}: status 3`);
    t.match(result.stderr, /No help topic for 'foo'/, `${args.join(' ')}: says so`);
    t.equal(result.stdout, '', `${args.join(' ')}: no page`);
  }
});

t.test('-h after the id of exec and ps belongs to the process, not to tsrunc', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  for (const verb of ['exec', 'ps']) {
    const result = await sandbox.tsrunc([verb, 'nosuch', 'sh', '-h'].filter((w) => verb === 'exec' || w !== 'sh'));
    t.not(result.status, 0, `${verb} nosuch ... -h fails`);
    t.notMatch(result.stdout, /NAME:/, `${verb}: no help page`);
    t.match(result.stderr, /nosuch does not exist/, `${verb}: the container is looked for`);
  }
});

t.test('help and unknown verbs answer as runc does, side by side', { skip: RUNC ? false : 'runc is not installed' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const runc = (args: string[]) => runCommand(RUNC!, ['--root', sandbox.dir, ...args]);
  t.same(sections((await sandbox.tsrunc(['--help'])).stdout), sections((await runc(['--help'])).stdout), 'main page sections');
  for (const args of [['foo'], ['foo', '-h'], ['help', 'foo'], ['help'], [], ['state', '-h'], ['help', 'list'], ['help', '-h'], ['h', 'foo']]) {
    const [ours, theirs] = [await sandbox.tsrunc(args), await runc(args)];
    t.equal(ours.status, theirs.status, `${args.join(' ') || '(nothing)'}: same status (${theirs.status})`);
  }
  // The sections of runc's page for a verb (less its EXAMPLE text), in the same order.
  for (const verb of ['create', 'run', 'state', 'delete', 'kill', 'ps', 'update', 'spec', 'list', 'exec']) {
    // Ours may add a DESCRIPTION where runc's page has none.
    const theirs = sections((await runc([verb, '--help'])).stdout).filter((s) => !s.startsWith('EXAMPLE'));
    const ours = sections((await sandbox.tsrunc([verb, '--help'])).stdout).filter((s) => s !== 'DESCRIPTION:' || theirs.includes(s));
    t.same(ours, theirs, `${verb}: ${theirs.join(' ')}`);
  }
});

/** Runs `sh -c 'sleep 60 & sleep 61'` as container `id` and waits until both sleeps run. */
async function twoSleeps(t: Test, sandbox: Sandbox, id: string): Promise<number[]> {
  const bundle = sandbox.bundle(busyboxConfig(['sh', '-c', 'sleep 60 & exec sleep 61']));
  t.equal((await sandbox.tsrunc(['run', '--detach', '--bundle', bundle, id], { outputFile: sandbox.outputOf(id) })).status, 0, 'run -d');
  let pids: number[] = [];
  await waitFor(async () => {
    pids = JSON.parse((await sandbox.tsrunc(['ps', '--format', 'json', id])).stdout) as number[];
    return pids.length === 2;
  });
  t.equal(pids.length, 2, 'two processes in the container');
  return pids;
}

/** The PID column of a ps table. */
function pidsOf(t: Test, result: RunResult): number[] {
  const [header = '', ...rows] = result.stdout.trimEnd().split('\n');
  const column = header.trim().split(/\s+/).indexOf('PID');
  t.not(column, -1, 'a PID column');
  return rows.map((row) => Number(row.trim().split(/\s+/)[column])).sort((a, b) => a - b);
}

t.test('ps with ps(1) options lists the container processes, not the host', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const pids = await twoSleeps(t, sandbox, 'psx');

  const ex = await sandbox.tsrunc(['ps', 'psx', '-e', '-x']);
  t.equal(ex.status, 0, ex.stderr);
  t.match(ex.stdout.split('\n')[0], /^\s+PID\s+TTY\s+STAT\s+TIME\s+COMMAND$/, '-e -x: its header');
  t.same(pidsOf(t, ex), pids, '-e -x: the container pids only');
  t.match(ex.stdout, /sleep 61/, '-e -x: commands shown');

  for (const args of [['-ef'], ['--', '-ef'], ['-e', '-f']]) {
    const ef = await sandbox.tsrunc(['ps', 'psx', ...args]);
    t.equal(ef.status, 0, ef.stderr);
    t.match(ef.stdout.split('\n')[0], /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/, `${args.join(' ')}: its header`);
    t.same(pidsOf(t, ef), pids, `${args.join(' ')}: the container pids only`);
    t.notOk(pidsOf(t, ef).includes(process.pid) || pidsOf(t, ef).includes(1), `${args.join(' ')}: neither the host's init nor this test`);
  }

  const custom = await sandbox.tsrunc(['ps', 'psx', '-e', '-o', 'pid,comm']);
  t.match(custom.stdout, /^ *PID COMMAND\n *\d+ sleep\n *\d+ sleep\n$/, '-e -o pid,comm: the columns asked for');
  t.same(pidsOf(t, custom), pids, '-e -o pid,comm: the container pids only');

  const bad = await sandbox.tsrunc(['ps', 'psx', '--no-such-ps-option']);
  t.equal(bad.status, 1, 'a ps(1) error fails');
  t.match(bad.stderr, /exit status 1: error: /, "with ps(1)'s own words");

  t.same(JSON.parse((await sandbox.tsrunc(['ps', '-f', 'json', 'psx', '-e'])).stdout), pids, '--format json ignores ps options');
});

t.test('ps of a stopped container: its header and nothing else, status 0, as runc', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await twoSleeps(t, sandbox, 'psstop');
  t.equal((await sandbox.tsrunc(['kill', 'psstop', 'KILL'])).status, 0);
  t.ok(
    await waitFor(async () => (JSON.parse((await sandbox.tsrunc(['state', 'psstop'])).stdout) as { status: string }).status === 'stopped'),
    'stopped',
  );
  const table = await sandbox.tsrunc(['ps', 'psstop']);
  t.equal(table.status, 0, table.stderr);
  t.match(table.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n$/, 'the header only');
  const ex = await sandbox.tsrunc(['ps', 'psstop', '-e', '-x']);
  t.equal(ex.status, 0, ex.stderr);
  t.match(ex.stdout, /^\s+PID\s+TTY\s+STAT\s+TIME\s+COMMAND\n$/, '-e -x: the header only');
  t.equal((await sandbox.tsrunc(['ps', '-f', 'json', 'psstop'])).stdout, '[]\n', 'json: no pids');
  t.equal((await sandbox.tsrunc(['delete', 'psstop'])).status, 0);
  const gone = await sandbox.tsrunc(['ps', 'psstop']);
  t.equal(gone.status, 1, 'deleted: ps fails');
  t.match(gone.stderr, /psstop does not exist/);
});
