/**
 * Resolving a container path inside the rootfs: symlinks (absolute or with "..") are followed
 * as if the rootfs were "/", so a hostile rootfs cannot point a mount at the host.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';

const MAX_SYMLINKS = 255;

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
