/**
 * `tsrunc explain`: what create would do with a bundle, without doing any of it. The plan is
 * the object create applies (planContainer with the same inputs; `create --debug` logs it for
 * comparison), with the cgroup writes the manager would make. Nothing is created.
 */
import type { OciConfig } from '../spec/config.js';
import type { ContainerPlan } from '../plan/types.js';
import { cgroupManagerForConfig, type CgroupPaths, type PlannedCgroupWrite } from '../linux/cgroups/index.js';
import { checkRootlessConfig, isRootless } from '../linux/user-namespace-rootless.js';
import { loadBundle } from './bundle.js';
import { checkHooks } from './hooks.js';
import { validateId } from './id.js';
import { planContainer } from './plan-init.js';
import { containerDir } from './state-files.js';

export interface ExplainOptions {
  root: string;
  id: string;
  bundle: string | undefined;
  noPivot: boolean;
  noNewKeyring: boolean;
  consoleSocket: string | undefined;
  rootless: 'true' | 'false' | 'auto' | undefined;
  /** --systemd-cgroup: the plan names the scope and its unit properties. */
  systemdCgroup?: boolean | undefined;
}

export interface CgroupExplanation {
  paths: CgroupPaths;
  /** Rootless: made only where the user may (a delegated cgroup), else none, as runc does. */
  onlyIfDelegated: boolean;
  /** Written as the cgroup is made, before the init exists. */
  writes: PlannedCgroupWrite[];
  /** Written once the init is ready (pids.max: hooks and the stage fork before). */
  afterReady: PlannedCgroupWrite[];
}

export interface Explanation {
  bundle: string;
  id: string;
  config: OciConfig;
  plan: ContainerPlan;
  cgroup: CgroupExplanation;
}

export function explainBundle(options: ExplainOptions): Explanation {
  const { dir: bundle, config } = loadBundle(options.bundle);
  return explainConfig(config, bundle, options);
}

/** The plan for a config already read (`tsrunc check` plans one whose rootfs may be missing). */
export function explainConfig(config: OciConfig, bundle: string, options: ExplainOptions): Explanation {
  validateId(options.id);
  checkHooks(config.hooks);
  const rootless = isRootless(options.rootless);
  if (rootless) checkRootlessConfig(config, process.geteuid!(), process.getegid!());
  const plan = planContainer(config, {
    id: options.id, bundle, stateDir: containerDir(options.root, options.id), noPivot: options.noPivot,
    consoleSocket: options.consoleSocket, attached: false, passedFds: [], passedEnv: [], noNewKeyring: options.noNewKeyring,
  });
  return { bundle, id: options.id, config, plan, cgroup: explainCgroup(config, options, rootless) };
}

function explainCgroup(config: OciConfig, options: ExplainOptions, rootless: boolean): CgroupExplanation {
  const { pids, ...limits } = config.linux?.resources ?? {};
  const cgroups = cgroupManagerForConfig(config, options.id, { stateRoot: options.root, systemd: options.systemdCgroup });
  const writes = cgroups.plan(limits);
  const same = (a: PlannedCgroupWrite, b: PlannedCgroupWrite) => a.dir === b.dir && a.file === b.file && a.value === b.value;
  // The device rules come with the first apply only: what a second plan repeats is not written again.
  const afterReady = pids ? cgroups.plan({ pids }).filter((w) => !writes.some((first) => same(first, w))) : [];
  return { paths: cgroups.paths, onlyIfDelegated: rootless, writes, afterReady };
}
