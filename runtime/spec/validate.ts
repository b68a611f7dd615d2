import type { ErrorObject } from 'ajv';
import { TsruncError } from '../errors.js';
import type { OciConfig } from './config.js';
import type { TsruncState } from './state.js';
import { validateSchema as checkConfigSchema, type CompiledValidator } from './generated/validate-config.js';
import { validateSchema as checkStateSchema } from './generated/validate-state.js';

/** Oldest and newest runtime-spec releases whose config.json tsrunc reads. */
const SUPPORTED_MAJOR = 1;
const SUPPORTED_MAX_MINOR = 3;
const SUPPORTED_TEXT = 'supported: 1.0.0 to 1.3.x';

const semver = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/**
 * Whether tsrunc reads configs written for spec version `version`. Pre-releases count with their
 * release (1.0.0-rc5 and 1.0.2-dev are accepted): bundles made by older runc versions carry them.
 */
export function isSupportedOciVersion(version: string): boolean {
  const match = semver.exec(version);
  if (match === null) return false;
  return Number(match[1]) === SUPPORTED_MAJOR && Number(match[2]) <= SUPPORTED_MAX_MINOR;
}

/** Checks `value` against the config schema and the supported ociVersion range; throws every problem at once. */
export function validateConfig(value: unknown, fileLabel = 'config.json'): OciConfig {
  const problems = schemaProblems(checkConfigSchema, value);
  const version = isObject(value) ? value['ociVersion'] : undefined;
  if (typeof version === 'string' && !isSupportedOciVersion(version)) {
    problems.push(`/ociVersion: unsupported version ${JSON.stringify(version)} (${SUPPORTED_TEXT})`);
  }
  report(problems, fileLabel);
  return value as OciConfig;
}

/** Checks `value` against the state.json schema, including its embedded config; throws every problem at once. */
export function validateState(value: unknown, fileLabel = 'state.json'): TsruncState {
  const problems = schemaProblems(checkStateSchema, value);
  // The generated state validator stops at "config is an object", so that the config validator
  // is loaded once rather than twice; the embedded config is checked here.
  const config = isObject(value) ? value['config'] : undefined;
  if (isObject(config)) problems.push(...schemaProblems(checkConfigSchema, config, '/config'));
  report(problems, fileLabel);
  return value as TsruncState;
}

function report(problems: string[], fileLabel: string): void {
  if (problems.length === 0) return;
  const lines = [...new Set(problems)].map((problem) => `${fileLabel}: ${problem}`);
  throw new TsruncError(lines.join('\n'));
}

/** Runs a precompiled validator and turns its errors into `<path>: <message>` strings. */
function schemaProblems(check: CompiledValidator, value: unknown, pathPrefix = ''): string[] {
  if (check(value)) return [];
  const problems: string[] = [];
  for (const error of check.errors ?? []) {
    // An if/then/else failure repeats what the branch's own errors already say.
    if (error.keyword === 'if') continue;
    const path = pathPrefix + error.instancePath;
    problems.push(`${path === '' ? '/' : path}: ${describe(error)}`);
  }
  return problems;
}

function describe(error: ErrorObject): string {
  const message = error.message ?? `fails "${error.keyword}"`;
  if (error.keyword === 'enum') {
    const allowed: unknown = error.params['allowedValues'];
    if (Array.isArray(allowed)) return `${message}: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return message;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
