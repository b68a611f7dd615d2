/**
 * `exec --cgroup [CONTROLLER[,CONTROLLER...]:]PATH`: run the process in an existing
 * sub-cgroup of the container's cgroup, for the named controllers or (without a prefix) for
 * all of them, as runc does. Pure: the caller checks that the directories exist.
 */
import path from 'node:path';
import { TsruncError } from '../errors.js';

export type CgroupPaths = Record<string, string>;

export function execCgroupPaths(containerPaths: CgroupPaths, specs: readonly string[]): CgroupPaths {
  const result: CgroupPaths = { ...containerPaths };
  const controllers = Object.keys(containerPaths);
  const unifiedOnly = controllers.length === 1 && controllers[0] === '';
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    const sub = colon < 0 ? spec : spec.slice(colon + 1);
    const named = colon < 0 ? controllers.filter((c) => c !== '') : spec.slice(0, colon).split(',');
    if (sub === '') throw new TsruncError(`--cgroup ${spec}: no sub-cgroup path`);
    if (colon >= 0 && unifiedOnly) {
      throw new TsruncError(`--cgroup ${spec}: this container has a cgroup v2 (unified) cgroup: give the path without a controller`);
    }
    for (const controller of named) {
      const base = containerPaths[controller];
      if (base === undefined || controller === '') {
        throw new TsruncError(`--cgroup ${spec}: unknown controller "${controller}": the container has no cgroup for it`);
      }
      result[controller] = within(base, sub, spec);
    }
    // The cgroup2 directory of a hybrid host follows when the prefix names every controller.
    if (colon < 0 && containerPaths[''] !== undefined) result[''] = within(containerPaths['']!, sub, spec);
  }
  return result;
}

function within(base: string, sub: string, spec: string): string {
  const joined = path.resolve(base, sub.replace(/^\/+/, ''));
  if (joined !== base && !joined.startsWith(`${base}/`)) {
    // runc's words at the end: scripts (and runc's own tests) match "<sub> is not a sub cgroup path".
    throw new TsruncError(`--cgroup ${spec}: the path leaves the container's cgroup: ${sub} is not a sub cgroup path`);
  }
  return joined;
}
