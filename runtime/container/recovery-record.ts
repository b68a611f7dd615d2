/**
 * A second, small record in a container's directory: written before its cgroup is made and
 * again once its init exists, so that `delete --force` still finds both when state.json is
 * missing (a create that died before writing it), empty or corrupt.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CgroupPaths, SystemdScope } from '../linux/cgroups/manager.js';

export const RECOVERY_FILE = 'recovery.json';

export interface RecoveryRecord {
  id: string;
  /** config.json's /linux/cgroupsPath, if any: what the saved paths are checked against. */
  cgroupsPath?: string;
  cgroupPaths?: CgroupPaths;
  /** The systemd driver's scope, when it made the cgroup. */
  systemdScope?: SystemdScope;
  init?: { pid: number; startTime: number };
}

/** The record in the container directory `dir`, or undefined when there is none that parses. */
export function readRecoveryRecord(dir: string): RecoveryRecord | undefined {
  try {
    const record: unknown = JSON.parse(fs.readFileSync(path.join(dir, RECOVERY_FILE), 'utf8'));
    if (typeof record !== 'object' || record === null || typeof (record as RecoveryRecord).id !== 'string') return undefined;
    return record as RecoveryRecord;
  } catch {
    return undefined;
  }
}
