/**
 * linux.sysctl, written from inside the container's namespaces. Placeholder: refused until
 * the namespacing checks land.
 */
import { TsruncError } from '../errors.js';

/** [key, value] pairs in config order. */
export type SysctlPlan = [string, string][];

export function planSysctl(sysctl: Record<string, string> | undefined, namespaces: readonly string[]): SysctlPlan {
  void namespaces;
  const entries = Object.entries(sysctl ?? {});
  if (entries.length > 0) throw new TsruncError('config.json: /linux/sysctl: sysctl is not supported yet by tsrunc');
  return entries;
}

export function applySysctl(plan: SysctlPlan): void {
  void plan;
}
