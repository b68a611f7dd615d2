import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { defaultConfig } from '../../runtime/spec/default-config.js';
import { loadConfig } from '../../runtime/spec/load.js';
import { thrownLines } from './spec-fixtures.js';

/** A temporary bundle directory, removed when test `t` ends; with config.json if `content` is given. */
function bundleWith(t: { teardown(fn: () => void): void }, content?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-spec-load-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (content !== undefined) writeFileSync(join(dir, 'config.json'), content);
  return dir;
}

t.test('loads and validates config.json from the bundle', async (t) => {
  const dir = bundleWith(t, JSON.stringify(defaultConfig(), null, '\t'));
  t.same(loadConfig(dir), defaultConfig());
  t.same(loadConfig(relative(process.cwd(), dir)), defaultConfig(), 'a relative bundle path works too');
});

t.test('a missing file is one line with the absolute path', async (t) => {
  const dir = bundleWith(t);
  t.same(thrownLines(() => loadConfig(relative(process.cwd(), dir))), [
    `config.json: cannot read ${join(dir, 'config.json')}: no such file or directory`,
  ]);
});

t.test('a directory in place of the file', async (t) => {
  const dir = bundleWith(t);
  mkdirSync(join(dir, 'config.json'));
  t.same(thrownLines(() => loadConfig(dir)), [`config.json: cannot read ${join(dir, 'config.json')}: illegal operation on a directory`]);
});

t.test('invalid JSON names the parser problem', async (t) => {
  const dir = bundleWith(t, '{"ociVersion": "1.2.0",}');
  const lines = thrownLines(() => loadConfig(dir));
  t.equal(lines.length, 1);
  t.match(lines[0], /^config\.json: invalid JSON: \S.*/);
  let parserMessage = '';
  try {
    JSON.parse('{"ociVersion": "1.2.0",}');
  } catch (error) {
    parserMessage = (error as Error).message;
  }
  t.equal(lines[0], `config.json: invalid JSON: ${parserMessage}`);
});

t.test('schema errors come through with the config.json label', async (t) => {
  const dir = bundleWith(t, '{"ociVersion": "1.4.0", "process": {"cwd": "/", "args": "sh"}}');
  t.same(thrownLines(() => loadConfig(dir)).sort(), [
    'config.json: /ociVersion: unsupported version "1.4.0" (supported: 1.0.0 to 1.3.x)',
    'config.json: /process/args: must be array',
  ]);
});
