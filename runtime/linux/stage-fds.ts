/**
 * The fd table of a stage program (plan/fd-table.ts), opened on the host by tsrunc: namespace
 * files checked to be the namespace they claim, sockets connected, exec.fifo as an O_PATH fd.
 * The result is spawn()'s stdio list: entry i becomes the stage's fd i.
 */
import fs from 'node:fs';
import { SyscallError, TsruncError } from '../errors.js';
import type { FdSource } from '../plan/fd-table.js';
import type { NamespaceType } from '../plan/types.js';
import * as libc from './libc.js';
import { namespaceKinds } from './namespaces.js';
import { connectUnix } from './scm-rights.js';

export interface OpenedFds {
  stdio: StdioEntry[];
  /** Closes what was opened here (after the spawn: the stage has its own copies). */
  close(): void;
}

/**
 * A namespace file, checked with the kernel's own answer (NS_GET_NSTYPE): bind-mounted files
 * (`ip netns add`, CNI, podman) are namespaces too, though their link text is a path.
 */
function openNamespace(type: NamespaceType, path: string): number {
  let fd: number;
  try {
    fd = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC, 0, `namespace ${type}: opening ${path}`);
  } catch (error) {
    const code = error instanceof SyscallError ? error.errnoName : String(error);
    throw new TsruncError(`namespace ${type}: cannot open ${path}: ${code}`);
  }
  let actual: number | undefined;
  try {
    actual = libc.namespaceType(fd, `namespace ${type}: ${path}`);
  } catch {
    actual = undefined; // ENOTTY: not a namespace file at all
  }
  if (actual === namespaceKinds[type].flag) return fd;
  let what = 'not a namespace';
  try {
    what = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (!/^\w+:\[\d+\]$/.test(what)) {
      const named = Object.entries(namespaceKinds).find(([, kind]) => kind.flag === actual)?.[0];
      what = named ? `a ${named} namespace` : 'not a namespace';
    }
  } catch {
    // keep the generic words
  }
  libc.close(fd);
  throw new TsruncError(`namespace ${type}: ${path} is not a ${type} namespace (it is ${what})`);
}

/** Why `path` cannot be joined as a `type` namespace, or undefined when it can (`tsrunc check`). */
export function namespaceFileProblem(type: NamespaceType, path: string): string | undefined {
  try {
    libc.close(openNamespace(type, path));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

type StdioEntry = number | 'pipe' | 'ignore';

function openOne(source: FdSource, trees: ReadonlyMap<number, number>, opened: number[]): StdioEntry {
  const keep = (fd: number) => {
    opened.push(fd);
    return fd;
  };
  switch (source.kind) {
    case 'stdio': return libc.isOpen(source.fd) ? source.fd : 'ignore';
    case 'null': return 'ignore';
    case 'channel': return 'pipe';
    case 'passed': return source.fd;
    case 'namespace': return keep(openNamespace(source.type, source.path));
    case 'mount-tree': {
      const tree = trees.get(source.index);
      if (tree === undefined) throw new TsruncError(`internal: mount ${source.index} has no detached tree`);
      return tree;
    }
    case 'console-socket': return keep(connectUnix(source.path, `setting up the terminal: connecting to the console socket ${source.path}`));
    case 'exec-fifo': return keep(libc.open(source.path, libc.O_PATH | libc.O_CLOEXEC, 0, `opening ${source.path}`));
    case 'seccomp-listener':
      return keep(connectUnix(source.path, `preparing the seccomp filter: failed to connect with seccomp agent ${source.path} (/linux/seccomp/listenerPath)`));
  }
}

export function openStageFds(entries: readonly FdSource[], trees: ReadonlyMap<number, number> = new Map()): OpenedFds {
  const opened: number[] = [];
  const close = () => {
    for (const fd of opened.splice(0)) libc.close(fd);
  };
  try {
    return { stdio: entries.map((source) => openOne(source, trees, opened)), close };
  } catch (error) {
    close();
    throw error;
  }
}
