/**
 * Named steps of create, start, exec and delete. With --debug each one is a log line with the
 * time since the one before. TSRUNC_TEST_CRASH_AT=<step> makes tsrunc SIGKILL itself there:
 * the crash tests prove that dying at any step leaves nothing that `state` misreports or
 * `delete --force` cannot remove. Otherwise a step costs two comparisons.
 */
import { isDebugOn, logDebug } from './log.js';

export const STEPS = [
  'create:dir-made', // the locked state directory exists, nothing else
  'create:recorded', // recovery.json names the cgroup; the stage runs, outside it
  'create:cgroup-made', // the stage is in the container's cgroup
  'create:init-cloned', // the init exists, recovery.json names it
  'create:ready', // the init waits for tsrunc to record the container
  'create:state-written', // state.json is there, the init not yet told
  'create:committed', // the init waits for start
  'start:locked',
  'start:fifo-opened', // the init is released, exec.fifo not yet removed
  'start:started', // the process runs
  'exec:stage-spawned', // the exec stage runs, outside the cgroup
  'exec:cgroup-joined',
  'exec:started', // the exec'd process runs
  'delete:locked',
  'delete:killed', // processes gone, cgroup and directory there
  'delete:cgroup-removed',
  'delete:state-removed', // state.json gone, recovery.json and the directory there
] as const;

export type StepName = (typeof STEPS)[number];

const crashAt = process.env['TSRUNC_TEST_CRASH_AT'];
let lastStepAt = 0;

export function step(name: StepName): void {
  if (crashAt === name) process.kill(process.pid, 'SIGKILL');
  if (isDebugOn()) {
    const now = performance.now();
    logDebug(`step ${name} (+${(now - lastStepAt).toFixed(1)} ms)`);
    lastStepAt = now;
  }
}
