/**
 * `tsrunc events` on a cgroup v2 host (the VM of tools/vm/run.sh): each OOM kill in the
 * container's cgroup, counted by memory.events' oom_kill, comes out as runc's
 * `{"type":"oom","id":"<id>"}`; a container that never hits its limit gives none.
 */
import fs from 'node:fs';
import t from 'tap';
import { notV2Host, setup, slow } from './lib.js';
import { runOomScenario } from '../lib/oom-events.js';

const skip = notV2Host();

t.test('events prints an oom line for each OOM kill (memory.events)', { skip }, async (t) => {
  const { sandbox } = setup(t, 'oom');
  const run = await runOomScenario(sandbox, 'oomer', 2, '2s', slow);

  t.equal(run.eventsResult.status, 0, `events ends once the container is gone: ${run.errors}`);
  t.equal(run.output.match(/dd=137/g)?.length, 2, `both dd runs were SIGKILLed: ${run.output}`);
  t.equal(run.kernelOomKills, 2, 'memory.events counted two OOM kills');
  const oomLines = run.stdout.split('\n').filter((line) => line.includes('"oom"'));
  t.same(oomLines, ['{"type":"oom","id":"oomer"}', '{"type":"oom","id":"oomer"}'], 'one oom line per kill, in runc\'s form');
  t.notOk(fs.existsSync(run.memoryDir), 'the cgroup is gone');
  t.same(sandbox.leftovers(), []);
  t.same(sandbox.processes(), []);
});

t.test('events prints no oom line when there is no OOM kill', { skip }, async (t) => {
  const { sandbox } = setup(t, 'calm');
  const run = await runOomScenario(sandbox, 'calm', 0, '2s', slow);

  t.equal(run.eventsResult.status, 0, run.errors);
  t.equal(run.kernelOomKills, 0);
  t.same(run.events.filter((event) => event.type === 'oom'), []);
  t.same(sandbox.leftovers(), []);
});
