/**
 * `tsrunc events` reports each OOM kill in the container's cgroup as runc does,
 * `{"type":"oom","id":"<id>"}`, next to its stats events, and nothing when there is none.
 * On this host the memory controller is v1: the eventfd on memory.oom_control.
 */
import fs from 'node:fs';
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { runOomScenario } from '../lib/oom-events.js';

t.test('events prints an oom line for each OOM kill, and its stats lines', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const run = await runOomScenario(sandbox, 'oomer', 2, '500ms');

  t.equal(run.eventsResult.status, 0, `events ends with status 0 once the container is gone: ${run.errors}`);
  t.equal(run.output.match(/dd=137/g)?.length, 2, `both dd runs were SIGKILLed: ${run.output}`);
  t.equal(run.kernelOomKills, 2, 'the kernel counted two OOM kills in the cgroup');
  const oomLines = run.stdout.split('\n').filter((line) => line.includes('"oom"'));
  t.same(oomLines, ['{"type":"oom","id":"oomer"}', '{"type":"oom","id":"oomer"}'], 'one oom line per kill, in runc\'s exact form');
  t.ok(run.events.some((event) => event.type === 'stats' && event.id === 'oomer' && event.data !== undefined), 'stats events come too');
  t.notOk(fs.existsSync(run.memoryDir), 'the memory cgroup is gone');
  t.same(sandbox.leftovers(), [], 'no container left');
  t.same(sandbox.processes(), [], 'no process left');
});

t.test('events prints no oom line for a container that never hits its limit, nor at its delete', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const run = await runOomScenario(sandbox, 'calm', 0, '500ms');

  t.equal(run.eventsResult.status, 0, run.errors);
  t.equal(run.kernelOomKills, 0);
  t.same(run.events.filter((event) => event.type === 'oom'), [], 'no oom event');
  t.ok(run.events.length > 0 && run.events.every((event) => event.type === 'stats'), 'stats events only');
  t.same(sandbox.leftovers(), []);
  t.same(sandbox.processes(), []);
});
