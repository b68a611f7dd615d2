/**
 * What the process inherits across execve, read back from inside the container:
 * process.scheduler, process.ioPriority, process.execCPUAffinity, linux.personality and
 * linux.memoryPolicy (each was accepted and ignored before); the runtime-spec 1.3 fields tsrunc
 * does not apply yet are refused, not ignored.
 */
import fs from 'node:fs';
import t from 'tap';
import { Sandbox, busyboxConfig, type JsonObject } from '../lib/harness.js';
import { expectCreateFailure, fields, runScript, withProcess } from '../lib/container-helpers.js';

const report = [
  's=$(cut -d")" -f2 /proc/$$/stat)',
  'echo policy=$(echo $s | awk \'{print $39}\')',
  'echo nice=$(echo $s | awk \'{print $17}\')',
  'echo ioprio=$(ionice -p $$)',
  'echo cpus=$(awk \'/^Cpus_allowed_list/ {print $2}\' /proc/$$/status)',
  'echo personality=$(cat /proc/$$/personality)',
  'echo machine=$(uname -m)',
].join('\n');

const linux = (config: JsonObject): JsonObject => config['linux'] as JsonObject;

t.test('scheduler, I/O priority, CPU affinity and personality, read back inside', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['true']);
  const result = await runScript(sandbox, report, {
    overrides: { linux: { ...linux(base), personality: { domain: 'LINUX32' } } },
    processFields: {
      scheduler: { policy: 'SCHED_BATCH', nice: 7 },
      ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 },
      execCPUAffinity: { initial: '0', final: '1' },
    },
  });
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['policy'], '3', 'SCHED_BATCH');
  t.equal(seen['nice'], '7');
  t.match(seen['ioprio'], /^idle/, 'the idle I/O class');
  t.equal(seen['cpus'], '1', 'the final affinity');
  t.equal(seen['personality'], '00000008', 'PER_LINUX32');
  t.equal(seen['machine'], 'i686', 'uname as a 32-bit system sees it');
});

t.test('without them the process has the defaults', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const result = await runScript(sandbox, report);
  const seen = fields(result.stdout);
  t.equal(seen['policy'], '0');
  t.equal(seen['nice'], '0');
  t.equal(seen['personality'], '00000000');
  t.equal(seen['machine'], 'x86_64');
});

t.test('an exec runs with the container personality and its own scheduler', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['sleep', '100']);
  const bundle = sandbox.bundle({ ...base, linux: { ...linux(base), personality: { domain: 'LINUX32' } } });
  t.equal((await sandbox.create('attrs', bundle)).status, 0, sandbox.output('attrs'));
  const processFile = `${sandbox.dir}/process.json`;
  const proc = withProcess(busyboxConfig(['sh', '-c', report]), { scheduler: { policy: 'SCHED_IDLE' } })['process'];
  fs.writeFileSync(processFile, JSON.stringify(proc));
  const exec = await sandbox.tsrunc(['exec', '--process', processFile, 'attrs']);
  t.equal(exec.status, 0, exec.stderr);
  const seen = fields(exec.stdout);
  t.equal(seen['personality'], '00000008');
  t.equal(seen['policy'], '5', 'SCHED_IDLE');
  t.equal((await sandbox.tsrunc(['delete', '--force', 'attrs'])).status, 0);
});

for (const [name, fieldsOf, expected] of [
  ['a CPU list that is not one', { execCPUAffinity: { final: '0-x' } }, /config\.json: \/process\/execCPUAffinity\/final: "0-x" is not a CPU list/],
  ['an I/O priority level past 7', { ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 9 } }, /config\.json: \/process\/ioPriority\/priority: 9 is not a priority level/],
] as const) {
  t.test(`refused: ${name}`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    await expectCreateFailure(t, sandbox, withProcess(busyboxConfig(['true']), fieldsOf), expected);
  });
}

t.test('refused: personality flags (the spec names none yet)', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const base = busyboxConfig(['true']);
  const config = { ...base, linux: { ...linux(base), personality: { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] } } };
  await expectCreateFailure(t, sandbox, config, /config\.json: \/linux\/personality\/flags: personality flags are not supported/);
});

t.test('runtime-spec 1.3 memoryPolicy: the NUMA policy the process runs with', async (t) => {
  for (const [policy, expected] of [
    [{ mode: 'MPOL_BIND', nodes: '0' }, / bind:0 /],
    [{ mode: 'MPOL_INTERLEAVE', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] }, / interleave=static:0 /],
    [{ mode: 'MPOL_LOCAL' }, / local /],
  ] as const) {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const base = busyboxConfig(['true']);
    const result = await runScript(sandbox, 'head -1 /proc/$$/numa_maps', { overrides: { ociVersion: '1.3.0', linux: { ...linux(base), memoryPolicy: policy } } });
    t.equal(result.status, 0, result.stderr);
    t.match(result.stdout, expected, `${policy.mode}: ${result.stdout.trim()}`);
  }
});

for (const [name, linuxFields, expected] of [
  ['MPOL_BIND without nodes', { memoryPolicy: { mode: 'MPOL_BIND' } }, /config\.json: \/linux\/memoryPolicy\/nodes: MPOL_BIND needs at least one memory node/],
  ['MPOL_LOCAL with nodes', { memoryPolicy: { mode: 'MPOL_LOCAL', nodes: '0' } }, /config\.json: \/linux\/memoryPolicy\/nodes: MPOL_LOCAL takes no memory nodes/],
  ['both node flags', { memoryPolicy: { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'] } }, /\/linux\/memoryPolicy\/flags: .* exclude each other/],
  ['intelRdt (not applied yet)', { intelRdt: { closID: 'x' } }, /config\.json: \/linux\/intelRdt: Intel RDT \(resctrl\) is not supported/],
] as const) {
  t.test(`refused, not ignored: ${name}`, async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const base = busyboxConfig(['true']);
    await expectCreateFailure(t, sandbox, { ...base, ociVersion: '1.3.0', linux: { ...linux(base), ...linuxFields } }, expected);
  });
}
