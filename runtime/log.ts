/**
 * runc-style logging: --log FILE, --log-format text|json (containerd reads the last error
 * from the JSON form), --debug for debug lines. Errors also go to stderr.
 */
import fs from 'node:fs';
import { writeErr } from './cli/output.js';

export type LogFormat = 'text' | 'json';
type Level = 'debug' | 'info' | 'warning' | 'error';

interface LogSettings {
  file: string | undefined;
  format: LogFormat;
  debug: boolean;
}

let settings: LogSettings = { file: undefined, format: 'text', debug: false };

export function configureLog(next: LogSettings): void {
  settings = next;
}

function format(level: Level, message: string): string {
  const time = new Date().toISOString();
  if (settings.format === 'json') return `${JSON.stringify({ level, msg: message, time })}\n`;
  return `time="${time}" level=${level} msg=${JSON.stringify(message)}\n`;
}

function emit(level: Level, message: string): void {
  if (settings.file) {
    try {
      fs.appendFileSync(settings.file, format(level, message));
    } catch {
      // an unwritable log must not hide the error itself, which stderr still shows
    }
  } else if (level !== 'error') {
    writeErr(format(level, message));
  }
}

export function isDebugOn(): boolean {
  return settings.debug;
}

export function logDebug(message: string): void {
  if (settings.debug) emit('debug', message);
}

export function logWarning(message: string): void {
  emit('warning', message);
}

/** The one line a failed command leaves: on stderr, and in the log when there is one. */
export function logError(message: string): void {
  emit('error', message);
  writeErr(`tsrunc: ${message}\n`);
}
