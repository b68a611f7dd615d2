/**
 * Resolving a container path inside the rootfs: symlinks (absolute or with "..") are followed
 * as if the rootfs were "/", so a hostile rootfs cannot point a mount at the host.
 *
 * The kernel does the resolving: openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from an fd
 * of the rootfs gives an libc.O_PATH fd of the destination, and the mount goes onto
 * /proc/self/fd/N, so nothing can swap the path between the check and the mount. Missing
 * components are created one at a time relative to their parent's fd (mkdirat/openat with
 * libc.O_NOFOLLOW). Where the kernel has no openat2 (ENOSYS, before Linux 5.6), the lexical walk
 * of resolveInRoot is used instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SyscallError, TsruncError } from '../errors.js';
import * as libc from './libc.js';

const MAX_SYMLINKS = 255;
/** Dangling symlinks followed by hand while creating a path (the kernel's own limit is 40). */
const MAX_CREATE_SYMLINKS = 40;


/** Pure, lexical: `containerPath` with the rootfs's symlinks followed as if `root` were "/". */
export function resolveInRoot(root: string, containerPath: string): string {
  let pending = containerPath.split('/').filter((part) => part !== '' && part !== '.');
  let resolved: string[] = [];
  let followed = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(candidate);
    } catch {
      stat = undefined; // not there yet: the rest is taken literally and created later
    }
    if (stat?.isSymbolicLink()) {
      if (++followed > MAX_SYMLINKS) {
        throw new TsruncError(`resolving ${containerPath} in ${root}: too many levels of symbolic links`);
      }
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/').filter((p) => p !== ''), ...pending];
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** Creates what a mount needs at `target` (a directory, or an empty file for a file source). */
export function ensureMountTarget(target: string, asFile: boolean): void {
  if (asFile) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (!fs.existsSync(target)) fs.closeSync(fs.openSync(target, 'a'));
  } else {
    fs.mkdirSync(target, { recursive: true });
  }
}

/** The path through which the kernel reaches what `fd` refers to (for mount(2) and friends). */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** What to make when the path is missing: every missing parent is a directory. */
export type CreateKind = 'directory' | 'file';

export interface OpenInRootOptions {
  /** Create the path (and its parents) when missing; undefined: it must exist. */
  create?: CreateKind | undefined;
  /**
   * Called with the resolved container path (symlinks followed, "/"-rooted) before anything is
   * created there and once more for the final result; throws to refuse the path.
   */
  check?: ((resolved: string) => void) | undefined;
  /** For error messages. */
  context: string;
}

let openat2Missing = false;

/** Tests only: behave as on a kernel without openat2 (true) or as usual (false). */
export function simulateMissingOpenat2(missing: boolean): void {
  openat2Missing = missing;
}

/** Whether this kernel has openat2 (Linux 5.6+); probed once. */
export function hasOpenat2(): boolean {
  if (openat2Missing) return false;
  try {
    libc.close(libc.openat2(-100, '/', libc.O_PATH | libc.O_CLOEXEC, 0, 0, 'probing openat2'));
  } catch (error) {
    if (error instanceof SyscallError && error.errnoName === 'ENOSYS') openat2Missing = true;
  }
  return !openat2Missing;
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof SyscallError ? error.errnoName : undefined;
}

/** Splits a container path into its components, "." dropped (".." kept: the kernel resolves it). */
function components(containerPath: string): string[] {
  return containerPath.split('/').filter((part) => part !== '' && part !== '.');
}

/**
 * The container's root filesystem, held open (libc.O_PATH) while the init prepares it: every path
 * given to it is resolved inside it.
 */
export class RootDir {
  readonly fd: number;
  /** The rootfs as the host (the init, before pivot_root) names it. */
  readonly hostPath: string;

  /** Opened from an fd: the init may not walk the host path (an init in a user namespace). */
  private readonly outOfReach: boolean;

  /** `rootfs`: its path, or an fd of it (which stays the caller's) where the path is out of reach. */
  constructor(rootfs: string | number) {
    this.outOfReach = typeof rootfs === 'number';
    this.fd = typeof rootfs === 'number'
      ? libc.openat(rootfs, '.', libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, 'opening the rootfs')
      : libc.open(rootfs, libc.O_PATH | libc.O_DIRECTORY | libc.O_CLOEXEC, 0, `opening rootfs ${rootfs}`);
    this.hostPath = fs.readlinkSync(fdPath(this.fd));
  }

  close(): void {
    libc.close(this.fd);
  }

  /** The container path (as "/"-rooted inside the rootfs) of something opened under it. */
  containerPathOf(fd: number, context: string): string {
    const host = fs.readlinkSync(fdPath(fd));
    if (host === this.hostPath) return '/';
    if (this.hostPath === '/') return host;
    if (host.startsWith(`${this.hostPath}/`)) return host.slice(this.hostPath.length);
    throw new TsruncError(`${context}: resolved to ${host}, outside the rootfs ${this.hostPath}`);
  }

  /**
   * A path the init can walk to what `fd` (opened under the rootfs) is: its host path, or the
   * same below this root's fd where the host path is out of reach. Symlink-free as resolved.
   */
  reachablePath(fd: number, context: string): string {
    if (!this.outOfReach) return fs.readlinkSync(fdPath(fd));
    const containerPath = this.containerPathOf(fd, context);
    return `${fdPath(this.fd)}${containerPath === '/' ? '' : containerPath}`;
  }

  /**
   * An libc.O_PATH fd (close-on-exec; the caller closes it) of `containerPath` resolved inside the
   * rootfs, created first when missing and options.create says how.
   */
  open(containerPath: string, options: OpenInRootOptions): number {
    if (!hasOpenat2()) return this.openLexically(containerPath, options);
    const fd = this.tryOpen(containerPath, options.context);
    if (fd !== undefined) return this.checked(fd, options);
    if (options.create === undefined) {
      throw new TsruncError(`${options.context}: ${containerPath} does not exist in the rootfs`);
    }
    return this.checked(this.create(containerPath, options), options);
  }

  /** openat2 from the root: undefined when the path (or a symlink in it) leads nowhere. */
  private tryOpen(containerPath: string, context: string): number | undefined {
    const resolve = libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS;
    for (let attempt = 0; ; attempt++) {
      try {
        return libc.openat2(this.fd, containerPath, libc.O_PATH | libc.O_CLOEXEC, 0, resolve, `${context}: resolving ${containerPath}`);
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === 'ENOENT') return undefined;
        // The kernel asks for a retry when a rename or mount raced with the lookup.
        if (errno === 'EAGAIN' && attempt < 16) continue;
        throw error;
      }
    }
  }

  private checked(fd: number, options: OpenInRootOptions): number {
    try {
      options.check?.(this.containerPathOf(fd, options.context));
      return fd;
    } catch (error) {
      libc.close(fd);
      throw error;
    }
  }

  /**
   * Walks `containerPath` one component at a time from the root, letting the kernel resolve
   * each prefix (openat2 in root); a missing component is created in its parent's fd, and a
   * dangling symlink is followed by hand (inside the root, as the kernel would).
   */
  private create(containerPath: string, options: OpenInRootOptions): number {
    const context = options.context;
    let pending = components(containerPath);
    let current = this.tryOpen('/', context)!;
    let currentPath = '/';
    let links = 0;
    let steps = 0;
    try {
      while (pending.length > 0) {
        if (++steps > 4096) throw new TsruncError(`${context}: ${containerPath} keeps changing while it is created`);
        const name = pending.shift()!;
        const candidate = path.posix.join(currentPath, name);
        const next = this.tryOpen(candidate, context);
        if (next !== undefined) {
          libc.close(current);
          current = next;
          currentPath = this.containerPathOf(next, context);
          continue;
        }
        // Missing, or a symlink to something missing: look at the name itself.
        const link = this.danglingLinkTarget(current, name, context);
        if (link !== undefined) {
          if (++links > MAX_CREATE_SYMLINKS) {
            throw new TsruncError(`${context}: resolving ${containerPath}: too many levels of symbolic links`);
          }
          if (link.startsWith('/')) {
            libc.close(current);
            current = this.tryOpen('/', context)!;
            currentPath = '/';
          }
          pending = [...components(link), ...pending];
          continue;
        }
        options.check?.(candidate);
        const kind = pending.length === 0 ? options.create! : 'directory';
        try {
          if (kind === 'directory') {
            libc.mkdirat(current, name, 0o755, `${context}: creating ${candidate}`);
          } else {
            const flags = libc.O_WRONLY | libc.O_CREAT | libc.O_EXCL | libc.O_NOFOLLOW | libc.O_CLOEXEC;
            libc.close(libc.openat(current, name, flags, 0o644, `${context}: creating ${candidate}`));
          }
        } catch (error) {
          if (errnoOf(error) !== 'EEXIST') throw error; // made meanwhile: resolve it again
        }
        pending.unshift(name);
      }
      return current;
    } catch (error) {
      libc.close(current);
      throw error;
    }
  }

  /** The target of `name` in `dirFd` when it is a symlink; undefined when it does not exist. */
  private danglingLinkTarget(dirFd: number, name: string, context: string): string | undefined {
    let fd: number;
    try {
      fd = libc.openat(dirFd, name, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0, `${context}: looking at ${name}`);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    try {
      if (!fs.fstatSync(fd).isSymbolicLink()) {
        // There after all (made meanwhile): the caller resolves it again.
        return undefined;
      }
      return libc.readlinkat(fd, '', `${context}: reading symlink ${name}`);
    } finally {
      libc.close(fd);
    }
  }

  /** Without openat2: the lexical walk, then an libc.O_PATH fd of its result. */
  private openLexically(containerPath: string, options: OpenInRootOptions): number {
    const target = resolveInRoot(this.hostPath, containerPath);
    const resolved = `/${path.relative(this.hostPath, target)}`;
    options.check?.(resolved);
    if (options.create !== undefined) ensureMountTarget(target, options.create === 'file');
    let fd: number;
    try {
      fd = libc.open(target, libc.O_PATH | libc.O_NOFOLLOW | libc.O_CLOEXEC, 0, `${options.context}: opening ${containerPath}`);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
      throw new TsruncError(`${options.context}: ${containerPath} does not exist in the rootfs`);
    }
    return this.checked(fd, options);
  }
}

/**
 * Files under /proc a mount may cover, as runc allows (libcontainer/rootfs_linux.go,
 * checkProcMount): the ones lxcfs emulates.
 */
export const procMountAllowList: readonly string[] = [
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/sys/kernel/ns_last_pid',
  '/proc/sys/crypto/fips_enabled',
];

const PROC_SUPER_MAGIC = 0x9fa0;

export interface MountDestination {
  index: number;
  destination: string;
  /** Filesystem type ("" for a bind mount). */
  type: string;
  bind: boolean;
  source: string;
}

function isProcfs(source: string): boolean {
  try {
    return fs.statfsSync(source).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Refuses a mount whose destination, `resolved` (the "/"-rooted container path, symlinks
 * followed), is the root itself or inside /proc, except a proc filesystem on /proc and the
 * allow list. Run on the config's path in the parent and again on the resolved one in the init.
 */
export function checkMountDestination(resolved: string, mount: MountDestination): void {
  const where = `config.json: /mounts/${mount.index}/destination: "${mount.destination}"`;
  const shown = resolved === mount.destination ? where : `${where} resolves to "${resolved}" in the rootfs and`;
  if (resolved === '/') throw new TsruncError(`${shown} would cover the whole rootfs`);
  if (resolved !== '/proc' && !resolved.startsWith('/proc/')) return;
  if (resolved === '/proc') {
    const procfs = mount.bind ? isProcfs(mount.source) : mount.type === 'proc';
    if (procfs) return;
    throw new TsruncError(`${shown} cannot be mounted: only a filesystem of type proc may go on /proc`);
  }
  if (procMountAllowList.includes(resolved)) return;
  throw new TsruncError(`${shown} is inside /proc, where only ${procMountAllowList.join(', ')} may be mounted`);
}
