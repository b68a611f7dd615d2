/**
 * The container's own session keyring (runc's default; --no-new-keyring skips it): without
 * one, the container process would share the session keyring of whoever ran tsrunc, and could
 * read or link the keys in it. The stage joins it (creating it) before anything changes its
 * user; a process `tsrunc exec` starts joins the same one.
 */
import type { StageOp } from '../plan/ops.js';

/** The keyring's name for a container: runc's, so tools that look for it find it. */
export function sessionKeyringName(containerId: string): string {
  return `_ses.${containerId}`;
}

const SEARCH_USER = 0x80000;
const SEARCH_OTHER = 0x8;

/**
 * Joins (creating) the named session keyring and lets the container's root search it (so that
 * `exec` can join it too): possessor-only by default; 'user' search without a user namespace,
 * 'other' search in one (where the key's owner is not the uid the process sees as itself).
 * A kernel without keyrings has none to share either: that is not an error (as in runc).
 */
export function keyringOp(name: string, inUserNamespace: boolean): StageOp {
  return {
    op: 'keyring', label: `joining the session keyring ${name}`, name,
    addPermissions: inUserNamespace ? SEARCH_OTHER : SEARCH_USER, ignoreMissing: true,
  };
}

/** `tsrunc exec`: the container's keyring, as it is. */
export function joinKeyringOp(name: string): StageOp {
  return { op: 'keyring', label: `joining the session keyring ${name}`, name, addPermissions: 0, ignoreMissing: true };
}
