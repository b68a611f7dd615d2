/**
 * Seccomp (linux.seccomp). Placeholder until the libseccomp binding lands: a config that asks
 * for a filter is refused rather than run unfiltered.
 */
import type { OciSeccomp } from '../spec/config.js';
import { TsruncError } from '../errors.js';

/** What the init needs to build and load the filter. */
export type SeccompPlan = never;

export function planSeccomp(seccomp: OciSeccomp | undefined): SeccompPlan | undefined {
  if (seccomp !== undefined) throw new TsruncError('config.json: /linux/seccomp: seccomp is not supported yet by tsrunc');
  return undefined;
}

/** Loads the filter; the last thing before execve, on the thread that calls it. */
export function applySeccomp(plan: SeccompPlan): void {
  void plan;
}
