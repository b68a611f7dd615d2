import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TsruncError } from '../errors.js';
import type { OciConfig } from './config.js';
import { validateConfig } from './validate.js';

const LABEL = 'config.json';

/** Reads and validates <bundleDir>/config.json; any failure is one TsruncError naming the file. */
export function loadConfig(bundleDir: string): OciConfig {
  const path = resolve(bundleDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TsruncError(`${LABEL}: cannot read ${path}: ${readFailure(error)}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new TsruncError(`${LABEL}: invalid JSON: ${detail}`, { cause: error });
  }
  return validateConfig(value, LABEL);
}

/**
 * Node words fs errors as "ENOENT: no such file or directory, open '<path>'" or "EISDIR: illegal
 * operation on a directory, read"; only the description is kept, the path is already in our line.
 */
function readFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const match = /^E[A-Z0-9]+: (.+?), [a-z]+(?: '.*)?$/s.exec(error.message);
  return match?.[1] ?? error.message;
}
