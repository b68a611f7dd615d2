/**
 * Rootless containers: tsrunc run by a user without root (detected, as runc does, from the
 * effective uid). Such a user can have a container only inside a user namespace that maps its
 * own uid and gid (nothing else without newuidmap, which tsrunc does not use), and cgroups
 * only where they were delegated to it.
 */
import path from 'node:path';
import { SyscallError, TsruncError } from '../errors.js';
import type { OciConfig, OciResources } from '../spec/config.js';
import type { CgroupManager, CgroupPaths, CgroupStats, OomWatcher, PlannedCgroupWrite } from './cgroups/manager.js';
import { noOomWatcher } from './cgroups/oom-none.js';

/** --rootless: 'auto' (runc's default) means "when not root". */
export function isRootless(mode: 'true' | 'false' | 'auto' = 'auto'): boolean {
  if (mode !== 'auto') return mode === 'true';
  return process.geteuid?.() !== 0;
}

/** runc's default for a rootless user: $XDG_RUNTIME_DIR/<runtime> instead of /run/<runtime>. */
export function rootlessStateRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const runtimeDir = env['XDG_RUNTIME_DIR'];
  return runtimeDir ? path.join(runtimeDir, 'tsrunc') : undefined;
}

/** Pure: what a user without root cannot have, each as one error naming the JSON path. */
export function checkRootlessConfig(config: OciConfig, uid: number, gid: number): void {
  const linux = config.linux ?? {};
  const namespaces = linux.namespaces ?? [];
  const user = namespaces.findIndex((ns) => ns.type === 'user');
  if (user < 0) {
    throw new TsruncError('config.json: /linux/namespaces: without root, tsrunc needs a user namespace (add {"type": "user"} with uidMappings and gidMappings)');
  }
  if (namespaces[user]!.path) return; // joined: its maps exist already
  const check = (kind: 'uid' | 'gid', own: number) => {
    const mappings = (kind === 'uid' ? linux.uidMappings : linux.gidMappings) ?? [];
    mappings.forEach((mapping, index) => {
      if (mapping.hostID !== own || mapping.size !== 1) {
        throw new TsruncError(`config.json: /linux/${kind}Mappings/${index}: without root, tsrunc can map only your own ${kind} ${own} (hostID ${own}, size 1)`);
      }
    });
  };
  check('uid', uid);
  check('gid', gid);
}

/** Device rules alone do not need a cgroup: in a user namespace no device node can be made. */
function hasLimits(resources: OciResources | undefined): boolean {
  return Object.entries(resources ?? {}).some(([key, value]) => key !== 'devices' && value !== undefined);
}

/** The cgroup code reports a refused mkdir as a TsruncError whose line names the errno. */
function isPermissionError(error: unknown): boolean {
  if (error instanceof SyscallError) return ['EACCES', 'EPERM', 'EROFS'].includes(error.errnoName);
  return error instanceof Error && /\b(EACCES|EPERM|EROFS)\b/.test(error.message);
}

/**
 * The container's cgroup when the user may make it (delegated), else none at all, as runc
 * does for rootless containers; limits in the config make a missing cgroup an error.
 */
export class RootlessCgroups implements CgroupManager {
  private active = false;

  constructor(private readonly inner: CgroupManager, private readonly resources: OciResources | undefined) {}

  get paths(): CgroupPaths {
    return this.active ? this.inner.paths : {};
  }

  create(): void {
    try {
      this.inner.create();
      this.active = true;
    } catch (error) {
      if (!isPermissionError(error)) throw error;
      if (hasLimits(this.resources)) {
        throw new TsruncError(`config.json: /linux/resources: without root, limits need a cgroup delegated to you, and this one cannot be made: ${(error as Error).message}`);
      }
    }
  }

  plan(resources: OciResources): PlannedCgroupWrite[] {
    return this.active ? this.inner.plan(resources) : [];
  }

  apply(resources: OciResources): void {
    if (this.active) this.inner.apply(resources);
  }

  join(pid: number): void {
    if (this.active) this.inner.join(pid);
  }

  pids(): number[] {
    return this.active ? this.inner.pids() : [];
  }

  freeze(): void {
    this.inner.freeze();
  }

  thaw(): void {
    this.inner.thaw();
  }

  isFrozen(): boolean {
    return this.active && this.inner.isFrozen();
  }

  stats(): CgroupStats {
    return this.inner.stats();
  }

  watchOom(): OomWatcher {
    return this.active ? this.inner.watchOom() : noOomWatcher;
  }

  destroy(): void {
    if (this.active) this.inner.destroy();
  }
}
