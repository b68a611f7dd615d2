/**
 * tsrunc killed at every named step of create, start, exec and delete (TSRUNC_TEST_CRASH_AT,
 * runtime/steps.ts): afterwards `state` and `list` tell the truth, `delete --force`
 * leaves nothing (state directory, cgroup, mount, process, fd in the caller), and a container
 * with the same id can be created again.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox, busyboxConfig, mountsUnder, processExists, waitFor, type JsonObject } from '../lib/harness.js';
import { cgroupsNamed } from '../lib/container-helpers.js';
import { STEPS, type StepName } from '../../runtime/steps.js';

let serial = 0;

/** A number no other process on the machine sleeps for: `sleep <marker>` finds the container's processes. */
function newMarker(): string {
  return `7${process.pid}${String(++serial).padStart(3, '0')}`;
}

/** Pids of processes running `sleep <marker>` for any of these markers. */
function markerProcesses(markers: readonly string[]): number[] {
  const wanted = new Set(markers.map((marker) => `sleep\0${marker}\0`));
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (wanted.has(fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8')) && processExists(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** This process's fds that point into the sandbox: a manager must not be left holding any. */
function callerFdsInto(dir: string): string[] {
  const held: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) held.push(`${fd} -> ${target}`);
    } catch {
      // the directory's own fd, closed by now
    }
  }
  return held;
}

interface Scenario {
  sandbox: Sandbox;
  id: string;
  cgroupName: string;
  markers: string[];
}

function sleeperConfig(scenario: Scenario, marker: string): JsonObject {
  const config = busyboxConfig(['sleep', marker]);
  (config['linux'] as JsonObject)['cgroupsPath'] = `/${scenario.cgroupName}`;
  return config;
}

async function createSleeper(scenario: Scenario, env?: Record<string, string>): Promise<ReturnType<Sandbox['create']>> {
  const marker = newMarker();
  scenario.markers.push(marker);
  const bundle = scenario.sandbox.bundle(sleeperConfig(scenario, marker));
  return scenario.sandbox.tsrunc(['create', '--bundle', bundle, scenario.id], { outputFile: scenario.sandbox.outputOf(scenario.id), env });
}

/** Runs the command whose step it is with TSRUNC_TEST_CRASH_AT=step; it must die of SIGKILL there. */
async function crashAt(t: Test, scenario: Scenario, crashStep: StepName): Promise<void> {
  const { sandbox, id } = scenario;
  const env = { TSRUNC_TEST_CRASH_AT: crashStep };
  const verb = crashStep.split(':')[0]!;
  let result;
  if (verb === 'create') {
    result = await createSleeper(scenario, env);
  } else {
    t.equal((await createSleeper(scenario)).status, 0, 'created');
    if (verb === 'start') {
      result = await sandbox.tsrunc(['start', id], { env });
    } else {
      t.equal((await sandbox.tsrunc(['start', id])).status, 0, 'started');
      if (verb === 'exec') {
        const marker = newMarker();
        scenario.markers.push(marker);
        result = await sandbox.tsrunc(['exec', id, 'sleep', marker], { env, outputFile: path.join(sandbox.dir, 'exec.out') });
      } else {
        result = await sandbox.tsrunc(['delete', '--force', id], { env });
      }
    }
  }
  t.equal(result.signal, 'SIGKILL', `tsrunc ${verb} was killed at ${crashStep}`);
}

interface StateView {
  id: string;
  pid: number;
  status: string;
}

/** What `state` and `list` say afterwards agrees with what runs. Returns the status state gave (or its error). */
async function assertTruthful(t: Test, scenario: Scenario): Promise<string> {
  const { sandbox, id, markers } = scenario;
  const state = await sandbox.tsrunc(['state', id]);
  const list = await sandbox.tsrunc(['list', '--format', 'json']);
  t.equal(list.status, 0, `list: ${list.stderr}`);
  const listed = (JSON.parse(list.stdout) as StateView[]).find((entry) => entry.id === id);
  if (state.status !== 0) {
    t.equal(state.status, 1, 'state: exit status 1');
    t.match(state.stderr, new RegExp(`container ${id}`), 'state names the container');
    t.equal(listed, undefined, 'list does not show what state cannot read');
    // The init of a create that died before recording it reads EOF and exits.
    t.ok(await waitFor(() => markerProcesses(markers).length === 0 && sandbox.processes().length === 0), 'nothing of it runs');
    return `error: ${state.stderr.trim()}`;
  }
  const view = JSON.parse(state.stdout) as StateView;
  t.equal(listed?.status, view.status, 'list agrees with state');
  switch (view.status) {
    case 'stopped':
      t.equal(view.pid, 0, 'a stopped container has pid 0');
      t.ok(await waitFor(() => markerProcesses(markers).length === 0), 'nothing of it runs');
      break;
    case 'created': {
      t.ok(processExists(view.pid), 'the created init is alive');
      const start = await sandbox.tsrunc(['start', id]);
      t.equal(start.status, 0, `a created container starts: ${start.stderr}`);
      t.ok(await waitFor(() => markerProcesses(markers.slice(0, 1)).includes(view.pid)), 'and then runs its process');
      break;
    }
    case 'running':
      t.ok(processExists(view.pid), 'the running init is alive');
      t.ok(markerProcesses(markers.slice(0, 1)).includes(view.pid), 'and is the container process');
      break;
    default:
      t.fail(`unexpected status ${view.status}`);
  }
  return view.status;
}

function assertNothingLeft(t: Test, scenario: Scenario): void {
  const { sandbox } = scenario;
  t.same(sandbox.leftovers(), [], 'no state directory');
  t.same(sandbox.processes(), [], 'no stage or init');
  t.same(markerProcesses(scenario.markers), [], 'no container process');
  t.same(cgroupsNamed(scenario.cgroupName), [], 'no cgroup');
  t.same(mountsUnder(sandbox.dir), [], 'no mount');
  t.same(callerFdsInto(sandbox.dir), [], 'no fd held by the caller');
}

const seen: string[] = [];

for (const crashStep of STEPS) {
  t.test(`killed at ${crashStep}`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const scenario: Scenario = {
      sandbox, id: 'crashed', cgroupName: `tsrunc-crash-${process.pid}-${crashStep.replace(':', '-')}`, markers: [],
    };
    await crashAt(t, scenario, crashStep);
    const said = await assertTruthful(t, scenario);
    seen.push(`${crashStep}: state said ${said}`);

    const deleted = await sandbox.tsrunc(['delete', '--force', scenario.id]);
    t.equal(deleted.status, 0, `delete --force: ${deleted.stderr}`);
    await waitFor(() => markerProcesses(scenario.markers).length === 0);
    assertNothingLeft(t, scenario);

    const again = await createSleeper(scenario);
    t.equal(again.status, 0, `the same id is created again: ${sandbox.output(scenario.id)}`);
    t.equal((await sandbox.tsrunc(['delete', '--force', scenario.id])).status, 0, 'and deleted');
    await waitFor(() => markerProcesses(scenario.markers).length === 0);
    assertNothingLeft(t, scenario);
  });
}

t.teardown(() => {
  // For the record (and the note): what each crash looked like from outside.
  for (const line of seen) t.comment(line);
});
