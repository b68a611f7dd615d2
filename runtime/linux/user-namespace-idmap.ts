/**
 * Idmapped bind mounts (mount options idmap/ridmap, with the mount's uidMappings/gidMappings):
 * a file owned by on-disk id N shows as the id N maps to. `tsrunc create` makes each one as a
 * detached mount on the host (user-namespace-mounts.ts: open_tree + mount_setattr with
 * MOUNT_ATTR_IDMAP, which needs host root and a user namespace holding the mappings); the init
 * only moves it into place.
 */
import { TsruncError } from '../errors.js';
import type { MountStep } from '../plan/types.js';
import * as libc from './libc.js';
import { CLONE_NEWUSER } from './namespaces.js';
import { startStage } from './stage-process.js';
import { checkIdRanges, writeIdMaps, type IdMapping } from './user-namespace.js';

export const IDMAP_OPTIONS: readonly string[] = ['idmap', 'ridmap'];

interface MountMappings {
  options?: readonly string[] | undefined;
  uidMappings?: readonly IdMapping[] | undefined;
  gidMappings?: readonly IdMapping[] | undefined;
}

/**
 * Pure: the idmapping of config.json's mount `index`, or undefined for a plain mount. Without
 * mappings of its own the mount takes the container's user namespace mappings (runc does too).
 */
export function planIdmap(
  mount: MountMappings, index: number, isBind: boolean, container: MountMappings,
): MountStep['idmap'] {
  const options = mount.options ?? [];
  const hasMappings = (mount.uidMappings?.length ?? 0) > 0 || (mount.gidMappings?.length ?? 0) > 0;
  if (!options.some((o) => IDMAP_OPTIONS.includes(o)) && !hasMappings) return undefined;
  const where = `/mounts/${index}`;
  if (!isBind) throw new TsruncError(`config.json: ${where}/options: idmap and ridmap (and mount uidMappings) need a bind mount`);
  const uidMappings = mount.uidMappings?.length ? mount.uidMappings : container.uidMappings ?? [];
  const gidMappings = mount.gidMappings?.length ? mount.gidMappings : container.gidMappings ?? [];
  if (uidMappings.length === 0 || gidMappings.length === 0) {
    throw new TsruncError(`config.json: ${where}: an idmapped mount needs uidMappings and gidMappings (its own, or the container's user namespace mappings)`);
  }
  checkIdRanges(uidMappings, 'uid', mount.uidMappings?.length ? `${where}/uidMappings` : '/linux/uidMappings');
  checkIdRanges(gidMappings, 'gid', mount.gidMappings?.length ? `${where}/gidMappings` : '/linux/gidMappings');
  return {
    recursive: options.includes('ridmap'),
    uidMappings: uidMappings.map((m) => ({ ...m })),
    gidMappings: gidMappings.map((m) => ({ ...m })),
  };
}

/**
 * A user namespace with these maps, as an fd: the native stage makes it (one unshare), tsrunc
 * writes its maps and opens it, and the stage exits; the fd keeps the namespace.
 */
export function userNamespaceFd(uidMappings: IdMapping[], gidMappings: IdMapping[]): number {
  const holder = startStage(['ignore', 'ignore', 'ignore', 'pipe'], ['idmap-userns']);
  try {
    holder.send([
      { op: 'close-from', label: 'closing fds the stage was not given', first: 4 },
      { op: 'unshare', label: 'creating the user namespace of an idmapped mount', flags: CLONE_NEWUSER },
      { op: 'send', label: 'asking for the id maps', message: { type: 'userns' } },
    ]);
    const message = holder.next();
    if (message.type !== 'userns') {
      throw new TsruncError(`making the user namespace of an idmapped mount: ${message.type === 'error' ? String(message['message']) : 'the native stage gave up'}`);
    }
    writeIdMaps(holder.pid, { uidMappings, gidMappings });
    return libc.open(`/proc/${holder.pid}/ns/user`, libc.O_RDONLY | libc.O_CLOEXEC, 0, 'opening the idmap user namespace');
  } finally {
    holder.close(); // it reads the end of its channel and exits
    holder.child.unref();
  }
}
