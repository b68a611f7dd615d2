/** A bundle as create, check and explain read it: its absolute path, its config, its rootfs. */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import { loadConfig } from '../spec/load.js';
import type { OciConfig } from '../spec/config.js';

export interface Bundle {
  dir: string;
  config: OciConfig;
  rootfs: string;
}

/** The rootfs config.json names, absolute; an error when it is not a directory. */
export function rootfsOf(dir: string, config: OciConfig): string {
  const rootfs = path.resolve(dir, config.root?.path ?? '');
  if (!fs.existsSync(rootfs) || !fs.statSync(rootfs).isDirectory()) {
    throw new TsruncError(`rootfs: ${rootfs}: no such directory (config.json /root/path)`);
  }
  return rootfs;
}

export function loadBundle(bundleArg: string | undefined): Bundle {
  const dir = path.resolve(bundleArg ?? process.cwd());
  const config = loadConfig(dir);
  return { dir, config, rootfs: rootfsOf(dir, config) };
}
