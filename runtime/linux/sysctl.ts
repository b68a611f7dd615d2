/**
 * linux.sysctl. Only sysctls that belong to a namespace the container has of its own are
 * accepted (the rules are runc's, libcontainer/configs/validate): the IPC ones need an ipc
 * namespace, net.* a network namespace, kernel.domainname a uts namespace. Anything else would
 * change the host for everyone, and is refused at create, before anything is made.
 *
 * The stage writes them through /proc/sys before pivot_root: a sysctl file acts on the
 * namespaces of the process writing it (not of the procfs mount), and the stage is already
 * inside the container's namespaces.
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import type { StageOp } from '../plan/ops.js';
import { O_NOFOLLOW, O_TRUNC } from './libc.js';

/** [key, value] pairs in config order, keys as config.json writes them (dots or slashes). */
export type SysctlPlan = [string, string][];

/** Sysctls of the IPC namespace besides fs.mqueue.*. */
export const ipcSysctls: readonly string[] = [
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
];

/** What else of the config the rules look at. */
export interface SysctlConfigContext {
  /** The config sets hostname / domainname. */
  hostname?: boolean;
  domainname?: boolean;
  /** Namespaces joined by path: joining the runtime's own one is not a namespace of the container's. */
  joins?: readonly { type: string; path: string }[];
}

/**
 * A key in its dotted form. Keys may be written with slashes ("net/ipv4/ip_forward"); then a
 * dot is part of a name ("net/ipv4/conf/eth0.100/rp_filter" is "net.ipv4.conf.eth0/100.rp_filter"),
 * so the two separators swap, as in runc and sysctl(8).
 */
export function dottedSysctlKey(key: string): string {
  const first = key.search(/[./]/);
  if (first === -1 || key[first] === '.') return key;
  return swapSeparators(key);
}

function swapSeparators(key: string): string {
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** The file under /proc/sys of a dotted key. */
export function sysctlFile(dottedKey: string): string {
  return `/proc/sys/${swapSeparators(dottedKey)}`;
}

/** JSON Pointer (RFC 6901) of the key in config.json. */
function pointer(key: string): string {
  return `config.json: /linux/sysctl/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** Pure but for stat(2) on joined namespace paths: checks every key, returns what the init writes. */
export function planSysctl(
  sysctl: Record<string, string> | undefined,
  namespaces: readonly string[],
  context: SysctlConfigContext = {},
): SysctlPlan {
  const ownProcEntry: Record<string, string> = { network: 'net', ipc: 'ipc', uts: 'uts' };
  /** The container has this namespace of its own: listed, and not the runtime's own joined by path. */
  const separate = (type: string): boolean => {
    if (!namespaces.includes(type)) return false;
    const join = context.joins?.find((j) => j.type === type);
    return join === undefined || !sameFile(join.path, `/proc/self/ns/${ownProcEntry[type]}`);
  };
  const plan: SysctlPlan = [];
  for (const [key, value] of Object.entries(sysctl ?? {})) {
    const where = pointer(key);
    const dotted = dottedSysctlKey(key);
    const parts = swapSeparators(dotted).split('/');
    if (key.includes('\0') || parts.some((part) => part === '' || part === '.' || part === '..')) {
      throw new TsruncError(`${where}: "${key}" is not a sysctl name`);
    }
    if (value.includes('\0')) throw new TsruncError(`${where}: the value cannot contain NUL`);
    const refuse = (why: string) => new TsruncError(`${where}: sysctl "${key}" is not in a separate kernel namespace${why}`);
    if (ipcSysctls.includes(dotted) || dotted.startsWith('fs.mqueue.')) {
      if (!separate('ipc')) throw refuse(': it needs a new ipc namespace in /linux/namespaces');
    } else if (dotted.startsWith('net.')) {
      if (!separate('network')) throw refuse(': it needs a new network namespace in /linux/namespaces');
    } else if (dotted === 'kernel.domainname') {
      if (!separate('uts')) throw refuse(': it needs a new uts namespace in /linux/namespaces');
      if (context.domainname) {
        throw new TsruncError(`${where}: sysctl "${key}" conflicts with /domainname: set one of them`);
      }
    } else if (dotted === 'kernel.hostname') {
      // Namespaced, but the hostname has its own field; runc refuses the sysctl too.
      if (!separate('uts')) throw refuse(': it needs a new uts namespace in /linux/namespaces');
      throw new TsruncError(`${where}: sysctl "${key}" conflicts with the /hostname field: use /hostname instead`);
    } else if (dotted.startsWith('user.')) {
      throw refuse(': it needs a user namespace, which tsrunc does not support yet');
    } else {
      throw refuse('');
    }
    plan.push([key, value]);
  }
  return plan;
}


/** Writes each sysctl, in order, through /proc/sys (see the top of this file). */
export function sysctlOps(plan: SysctlPlan): StageOp[] {
  return plan.map(([key, value]) => {
    const file = sysctlFile(dottedSysctlKey(key));
    return { op: 'write-file', label: `setting sysctls: ${pointer(key)}: setting ${file}`, dir: null, path: file, data: value, flags: O_TRUNC | O_NOFOLLOW };
  });
}
