import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import t from 'tap';
import { configSchema } from '../../runtime/spec/generated/config-schema.js';
import { stateSchema } from '../../runtime/spec/generated/state-schema.js';
import { validateSchema as standaloneConfig } from '../../runtime/spec/generated/validate-config.js';
import { defaultConfig } from '../../runtime/spec/default-config.js';
import { validateState } from '../../runtime/spec/validate.js';
import { fullConfig, mutable, sampleState, thrownLines } from './spec-fixtures.js';

/** The repository root, found from this file whether it runs from the sources or from dist/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'spec-schemas', 'config.schema.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('spec-schemas/ not found above the test file');
    dir = parent;
  }
  return dir;
}

const readSchemaFile = (name: string): unknown => JSON.parse(readFileSync(join(repoRoot(), 'spec-schemas', name), 'utf8'));

/** Every place in `node` where additionalProperties is false, as JSON pointers. */
function closedObjects(node: unknown, path = ''): string[] {
  if (typeof node !== 'object' || node === null) return [];
  const found: string[] = [];
  for (const [key, child] of Object.entries(node)) {
    const childPath = `${path}/${key}`;
    if (key === 'additionalProperties' && child === false) found.push(childPath);
    found.push(...closedObjects(child, childPath));
  }
  return found;
}

t.test('no schema closes an object: unknown properties must pass', async (t) => {
  t.same(closedObjects(readSchemaFile('config.schema.json')), []);
  t.same(closedObjects(readSchemaFile('state.schema.json')), []);
  t.same(closedObjects({ a: { additionalProperties: false } }), ['/a/additionalProperties'], 'the check itself finds one');
});

t.test('the generated schema modules match spec-schemas/ (rerun tools/gen-schemas.mjs if not)', async (t) => {
  t.same(configSchema, readSchemaFile('config.schema.json'));
  t.same(stateSchema, readSchemaFile('state.schema.json'));
});

t.test('the precompiled validators agree with ajv compiling the full schemas now', async (t) => {
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  ajv.addSchema(readSchemaFile('config.schema.json') as object);
  ajv.addSchema(readSchemaFile('state.schema.json') as object);
  const compiledConfig = ajv.getSchema(configSchema.$id);
  const compiledState = ajv.getSchema(stateSchema.$id);
  if (!compiledConfig || !compiledState) throw new Error('the schemas did not compile');

  const broken = mutable(fullConfig()) as { linux: { seccomp: Record<string, unknown>; devices: unknown[] }; process: Record<string, unknown> };
  broken.linux.seccomp['defaultAction'] = 'nope';
  broken.linux.devices.push({ type: 'c', path: '/dev/x' });
  broken.process['user'] = { uid: 'root' };
  t.notOk(compiledConfig(broken), 'the broken sample is really broken');

  const summary = (errors: typeof compiledConfig.errors) => (errors ?? []).map((e) => `${e.instancePath} ${e.keyword} ${e.message ?? ''}`);
  const configSamples: unknown[] = [defaultConfig(), fullConfig(), broken, {}, null, { ociVersion: 1 }];
  for (const [i, sample] of configSamples.entries()) {
    t.equal(standaloneConfig(sample), compiledConfig(sample), `config sample ${i}: same verdict`);
    t.same(summary(standaloneConfig.errors), summary(compiledConfig.errors), `config sample ${i}: same errors`);
  }

  // The generated state validator leaves `config` to validateState(), so compare that: the same
  // JSON paths must be reported as by the full state schema.
  const pathsOf = (lines: string[]) => [...new Set(lines.map((line) => line.split(': ')[1]))].sort();
  const stateSamples: unknown[] = [
    sampleState(fullConfig()),
    { ...sampleState(defaultConfig()), status: 'gone', config: broken },
    { ...sampleState(defaultConfig()), pid: 'x', config: [] },
    {},
  ];
  for (const [i, sample] of stateSamples.entries()) {
    const expected = compiledState(sample) ? ['<did not throw>'] : (compiledState.errors ?? []).map((e) => `state.json: ${e.instancePath || '/'}: x`);
    const actual = thrownLines(() => validateState(sample));
    t.same(actual[0] === '<did not throw>' ? actual : pathsOf(actual), expected[0] === '<did not throw>' ? expected : pathsOf(expected), `state sample ${i}`);
  }
});
