import t from 'tap';
import { validateState } from '../../runtime/spec/validate.js';
import { fullConfig, mutable, sampleState, thrownLines } from './spec-fixtures.js';
import { defaultConfig } from '../../runtime/spec/default-config.js';

t.test('a state as tsrunc writes it validates', async (t) => {
  const state = sampleState(fullConfig());
  t.equal(validateState(state), state);
  const minimal = mutable(sampleState(defaultConfig()));
  delete minimal['owner'];
  delete minimal['annotations'];
  delete minimal['cgroupPaths'];
  t.same(thrownLines(() => validateState(minimal)), ['<did not throw>'], 'owner, annotations and cgroupPaths are optional');
});

t.test('every status tsrunc can report is accepted, others are not', async (t) => {
  for (const status of ['creating', 'created', 'running', 'stopped', 'paused']) {
    t.doesNotThrow(() => validateState({ ...sampleState(defaultConfig()), status }), status);
  }
  t.same(thrownLines(() => validateState({ ...sampleState(defaultConfig()), status: 'exited' })), [
    'state.json: /status: must be equal to one of the allowed values: "creating", "created", "running", "stopped", "paused"',
  ]);
});

t.test('missing fields are all listed', async (t) => {
  t.same(thrownLines(() => validateState({ ociVersion: '1.2.0' })).sort(), [
    "state.json: /: must have required property 'bundle'",
    "state.json: /: must have required property 'config'",
    "state.json: /: must have required property 'created'",
    "state.json: /: must have required property 'id'",
    "state.json: /: must have required property 'initStartTime'",
    "state.json: /: must have required property 'pid'",
    "state.json: /: must have required property 'rootfs'",
    "state.json: /: must have required property 'status'",
  ]);
});

t.test('field values are checked', async (t) => {
  const state = {
    ...sampleState(defaultConfig()),
    id: '',
    pid: -1,
    bundle: 'relative/bundle',
    rootfs: 'rootfs',
    created: 'yesterday',
    initStartTime: 1.5,
    cgroupPaths: { memory: 3 },
  };
  t.same(thrownLines(() => validateState(state)).sort(), [
    'state.json: /bundle: must match pattern "^/"',
    'state.json: /cgroupPaths/memory: must be string',
    'state.json: /created: must match pattern "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"',
    'state.json: /id: must match pattern "^[^/]+$"',
    'state.json: /initStartTime: must be integer',
    'state.json: /pid: must be >= 0',
    'state.json: /rootfs: must match pattern "^/"',
  ]);
});

t.test('RFC 3339 times with offsets are accepted', async (t) => {
  for (const created of ['2024-05-01T12:34:56Z', '2024-05-01T12:34:56.123456789+02:00', '2024-05-01t12:34:56-07:30']) {
    t.doesNotThrow(() => validateState({ ...sampleState(defaultConfig()), created }), created);
  }
});

t.test('the embedded config is checked against the config schema', async (t) => {
  const state = mutable(sampleState(defaultConfig()));
  const config = state['config'] as { process: Record<string, unknown>; linux: Record<string, unknown> };
  config.process['args'] = 'sh';
  config.linux['namespaces'] = [{ type: 'pid', futureField: 1 }];
  t.same(thrownLines(() => validateState(state)), ['state.json: /config/process/args: must be array']);
});

t.test('a config that is not an object', async (t) => {
  t.same(thrownLines(() => validateState({ ...sampleState(defaultConfig()), config: 'config.json' })), ['state.json: /config: must be object']);
  t.same(thrownLines(() => validateState({ ...sampleState(defaultConfig()), config: {} })), [
    "state.json: /config: must have required property 'ociVersion'",
  ]);
});

t.test('the file label names the file', async (t) => {
  t.same(thrownLines(() => validateState([], '/run/tsrunc/web-1/state.json')), ['/run/tsrunc/web-1/state.json: /: must be object']);
});
