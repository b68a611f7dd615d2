/**
 * The container's own session keyring (runc's default; --no-new-keyring skips it): without
 * one, the container process would share the session keyring of whoever ran tsrunc, and could
 * read or link the keys in it. Joined on the init's main thread, the one that calls execve
 * (keyrings live in the thread's credentials), before anything changes its user.
 */
import { SyscallError, TsruncError } from '../errors.js';
import * as libc from './libc.js';

/** The keyring's name for a container: runc's, so tools that look for it find it. */
export function sessionKeyringName(containerId: string): string {
  return `_ses.${containerId}`;
}

/**
 * Joins (creating) the named session keyring and lets the container's root search it:
 * possessor-only by default; 'user' search without a user namespace, 'other' search in one
 * (where the key's owner is not the uid the process sees as itself).
 */
export function joinSessionKeyring(name: string, inUserNamespace: boolean): void {
  let key: number;
  try {
    key = libc.keyctlJoinSessionKeyring(name, `joining the session keyring ${name}`);
  } catch (error) {
    // A kernel built without keyrings: there is no keyring to share either (runc does the same).
    if (error instanceof SyscallError && error.errnoName === 'ENOSYS') return;
    throw error;
  }
  const description = libc.keyctlDescribe(key, `describing the session keyring ${name}`);
  const perm = Number.parseInt(description.split(';')[3] ?? '', 16);
  if (!Number.isFinite(perm)) throw new TsruncError(`session keyring ${name}: unexpected description "${description}"`);
  const SEARCH_USER = 0x80000;
  const SEARCH_OTHER = 0x8;
  libc.keyctlSetPerm(key, perm | (inUserNamespace ? SEARCH_OTHER : SEARCH_USER), `setting the permissions of the session keyring ${name}`);
}
