/**
 * Whether a container's cgroup is frozen, from its saved paths alone. Kept apart from the
 * managers so `state`, `list` and every status check load nothing else.
 */
import type { CgroupPaths } from './manager.js';
import { readCgroupFile } from './files.js';
import { pollUntil } from '../wait.js';

/** v1: freezer.state FROZEN, and frozen by itself, not only through a frozen parent. */
export function isFrozenV1(freezerDir: string): boolean {
  let state = '';
  // FREEZING is a passing state: wait for where it ends.
  pollUntil(() => {
    state = (readCgroupFile(freezerDir, 'freezer.state') ?? '').trim();
    return state !== 'FREEZING';
  }, 1000);
  if (state !== 'FROZEN') return false;
  const self = readCgroupFile(freezerDir, 'freezer.self_freezing')?.trim();
  return self === undefined || self === '1';
}

/** v2: cgroup.freeze holds 1. */
export function isFrozenV2(dir: string): boolean {
  return (readCgroupFile(dir, 'cgroup.freeze') ?? '0').trim() === '1';
}

export function isCgroupFrozen(paths: CgroupPaths): boolean {
  const keys = Object.keys(paths);
  if (keys.length === 1 && keys[0] === '') return isFrozenV2(paths['']!);
  const freezer = paths['freezer'];
  return freezer !== undefined && isFrozenV1(freezer);
}
