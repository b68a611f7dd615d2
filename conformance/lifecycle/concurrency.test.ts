/**
 * Many tsrunc processes at once, as a busy manager runs them: 50 creates of distinct ids, and
 * start, kill, delete --force, state and exec racing on one id. Each command either does its
 * work or fails with one clear line; afterwards state agrees with what runs, and delete
 * --force leaves nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, processExists, waitFor, type JsonObject, type RunResult } from '../lib/harness.js';
import { assertNothingLeft, cgroupsNamed } from '../lib/container-helpers.js';

interface StateView {
  id: string;
  pid: number;
  status: string;
}

function sleeper(cgroupName: string): JsonObject {
  const config = busyboxConfig(['sleep', '1000']);
  (config['linux'] as JsonObject)['cgroupsPath'] = `/${cgroupName}`;
  return config;
}

/** A failed command says why in one line, never a stack trace or a signal death. */
function assertClean(t: Test, what: string, result: RunResult, statuses: readonly number[] = [0, 1]): void {
  t.ok(result.status !== null && statuses.includes(result.status), `${what}: exit status ${result.status ?? result.signal} (${result.stderr.trim()})`);
  // 255: a failed exec, as runc's.
  if (result.status === 1 || result.status === 255) t.equal(result.stderr.trim().split('\n').length, 1, `${what}: one error line`);
  t.notMatch(result.stderr, /^\s+at /m, `${what}: no stack trace`);
}

t.test('50 concurrent creates of distinct ids', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const cgroupPrefix = `tsrunc-many-${process.pid}`;
  const bundle = (i: number) => sandbox.bundle(sleeper(`${cgroupPrefix}-${i}`));
  const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
  const bundles = ids.map((_, i) => bundle(i));
  const created = await Promise.all(ids.map((id, i) => sandbox.create(id, bundles[i]!, [])));
  created.forEach((result, i) => t.equal(result.status, 0, `create ${ids[i]}: ${sandbox.output(ids[i]!)}`));

  const list = JSON.parse((await sandbox.tsrunc(['list', '--format', 'json'])).stdout) as StateView[];
  t.same(list.map((entry) => entry.id).sort(), [...ids].sort(), 'list shows each once');
  t.ok(list.every((entry) => entry.status === 'created' && processExists(entry.pid)), 'each is created, its init alive');
  t.equal(new Set(list.map((entry) => entry.pid)).size, 50, '50 distinct inits');

  const deleted = await Promise.all(ids.map((id) => sandbox.tsrunc(['delete', '--force', id])));
  deleted.forEach((result, i) => t.equal(result.status, 0, `delete --force ${ids[i]}: ${result.stderr}`));
  t.same(cgroupsNamed(cgroupPrefix), [], 'no cgroup left');
  assertNothingLeft(t, sandbox);
});

for (let round = 1; round <= 3; round++) {
  t.test(`start, kill, delete --force, state and exec racing on one id (round ${round})`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const cgroupName = `tsrunc-race-${process.pid}-${round}`;
    const id = 'raced';
    t.equal((await sandbox.create(id, sandbox.bundle(sleeper(cgroupName)))).status, 0, 'created');
    const execOut = path.join(sandbox.dir, 'exec.out');
    const commands: [string, string[], readonly number[]][] = [
      ['start', ['start', id], [0, 1]],
      ['state', ['state', id], [0, 1]],
      ['exec', ['exec', id, 'true'], [0, 255, 137]], // 137: killed by a racing kill or delete
      ['kill', ['kill', id, 'KILL'], [0, 1]],
      ['start again', ['start', id], [0, 1]],
      ['delete --force', ['delete', '--force', id], [0, 1]],
      ['state again', ['state', id], [0, 1]],
      ['exec again', ['exec', id, 'true'], [0, 255, 137]],
      ['kill again', ['kill', id, 'TERM'], [0, 1]],
      ['delete --force again', ['delete', '--force', id], [0, 1]],
    ];
    // A different order each round (steps coprime with 10: a permutation), so different commands win the lock.
    const stride = [1, 3, 7][round - 1]!;
    const order = commands.map((_, i) => commands[(i * stride + round) % commands.length]!);
    // An exec's output goes to a file: the process it starts would hold a pipe open.
    const results = await Promise.all(order.map(([, args], i) => sandbox.tsrunc(args, args[0] === 'exec' ? { outputFile: `${execOut}.${i}` } : {})));
    results.forEach((result, i) => assertClean(t, order[i]![0], result, order[i]![2]));
    const deletes = results.filter((_, i) => order[i]![0].startsWith('delete'));
    t.ok(deletes.some((result) => result.status === 0), 'a delete --force succeeded');

    // Whatever won, state and what runs agree, and one more delete --force cleans up.
    const state = await sandbox.tsrunc(['state', id]);
    if (state.status === 0) {
      const view = JSON.parse(state.stdout) as StateView;
      t.equal(view.status !== 'stopped', view.pid !== 0 && processExists(view.pid), `state ${view.status} agrees with the init`);
    } else {
      t.match(state.stderr, /container raced does not exist/, 'state: gone');
    }
    t.equal((await sandbox.tsrunc(['delete', '--force', id])).status, 0, 'a last delete --force');
    t.ok(await waitFor(() => sandbox.processes().length === 0), 'nothing runs');
    t.same(cgroupsNamed(cgroupName), [], 'no cgroup left');
    t.notOk(fs.existsSync(path.join(sandbox.root, id)), 'no state directory');
    assertNothingLeft(t, sandbox);
  });
}
