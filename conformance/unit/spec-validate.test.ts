import t from 'tap';
import { TsruncError } from '../../runtime/errors.js';
import { defaultConfig } from '../../runtime/spec/default-config.js';
import { isSupportedOciVersion, validateConfig } from '../../runtime/spec/validate.js';
import { fullConfig, mutable, runcSpecOutput, thrownLines } from './spec-fixtures.js';

const NAMESPACE_TYPES = '"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"';

/** The default config with `edit` applied to a JSON copy, as a bundle author might have written it. */
function editedDefault(edit: (config: Record<string, unknown> & { process: Record<string, unknown>; linux: Record<string, unknown> }) => void): unknown {
  const config = mutable(defaultConfig()) as Record<string, unknown> & { process: Record<string, unknown>; linux: Record<string, unknown> };
  edit(config);
  return config;
}

t.test('the default config', async (t) => {
  const config = defaultConfig();
  t.equal(validateConfig(config), config, 'validates and is returned as is');
  t.same(config, { ...runcSpecOutput, ociVersion: '1.2.0' }, 'has the content of runc spec, with ociVersion 1.2.0');
  t.not(defaultConfig(), config, 'is a fresh object on each call');
  config.process!.args.push('-l');
  t.same(defaultConfig().process?.args, ['sh'], 'edits to one copy do not leak into the next');
});

t.test('runc spec output (ociVersion 1.0.2-dev) validates', async (t) => {
  t.doesNotThrow(() => validateConfig(mutable(runcSpecOutput)));
});

t.test('a config using most linux fields validates', async (t) => {
  const config = fullConfig();
  t.same(thrownLines(() => validateConfig(config)), ['<did not throw>']);
});

t.test('wrong type at a nested path', async (t) => {
  const config = editedDefault((c) => {
    c.process['args'] = 'sh';
  });
  t.same(thrownLines(() => validateConfig(config)), ['config.json: /process/args: must be array']);

  const deeper = editedDefault((c) => {
    c.linux['namespaces'] = [{ type: 'pid' }, { type: 'network', path: 7 }];
  });
  t.same(thrownLines(() => validateConfig(deeper)), ['config.json: /linux/namespaces/1/path: must be string']);
});

t.test('the error is a TsruncError', async (t) => {
  t.throws(() => validateConfig({}), TsruncError);
});

t.test('missing required properties', async (t) => {
  t.same(thrownLines(() => validateConfig({})), ["config.json: /: must have required property 'ociVersion'"]);
  const config = editedDefault((c) => {
    delete c.process['cwd'];
    delete c.process['args'];
    (c['mounts'] as Record<string, unknown>[])[1] = { type: 'tmpfs' };
  });
  t.same(thrownLines(() => validateConfig(config)).sort(), [
    "config.json: /mounts/1: must have required property 'destination'",
    "config.json: /process: must have required property 'args'",
    "config.json: /process: must have required property 'cwd'",
  ]);
});

t.test('a non-object config', async (t) => {
  t.same(thrownLines(() => validateConfig(null)), ['config.json: /: must be object']);
  t.same(thrownLines(() => validateConfig([])), ['config.json: /: must be object']);
  t.same(thrownLines(() => validateConfig('{}')), ['config.json: /: must be object']);
});

t.test('bad enum values name the allowed values', async (t) => {
  const config = editedDefault((c) => {
    c.linux['namespaces'] = [{ type: 'pid' }, { type: 'net' }];
  });
  t.same(thrownLines(() => validateConfig(config)), [
    `config.json: /linux/namespaces/1/type: must be equal to one of the allowed values: ${NAMESPACE_TYPES}`,
  ]);

  const seccomp = editedDefault((c) => {
    c.linux['seccomp'] = {
      defaultAction: 'SCMP_ACT_DENY',
      syscalls: [{ names: ['open'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQUAL' }] }],
    };
  });
  t.same(thrownLines(() => validateConfig(seccomp)), [
    'config.json: /linux/seccomp/defaultAction: must be equal to one of the allowed values: "SCMP_ACT_KILL", ' +
      '"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", ' +
      '"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"',
    'config.json: /linux/seccomp/syscalls/0/args/0/op: must be equal to one of the allowed values: "SCMP_CMP_NE", ' +
      '"SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"',
  ]);

  const device = editedDefault((c) => {
    c.linux['devices'] = [{ type: 'x', path: '/dev/x', major: 1, minor: 1 }];
  });
  t.same(thrownLines(() => validateConfig(device)), [
    'config.json: /linux/devices/0/type: must be equal to one of the allowed values: "c", "b", "u", "p"',
  ]);
});

t.test('integer ranges', async (t) => {
  const config = editedDefault((c) => {
    c.process['user'] = { uid: -1, gid: 4294967296, additionalGids: [1.5] };
    c['hooks'] = { prestart: [{ path: '/bin/true', timeout: 0 }] };
    c.linux['resources'] = { blockIO: { weight: 70000 } };
  });
  t.same(thrownLines(() => validateConfig(config)).sort(), [
    'config.json: /hooks/prestart/0/timeout: must be >= 1',
    'config.json: /linux/resources/blockIO/weight: must be <= 65535',
    'config.json: /process/user/additionalGids/0: must be integer',
    'config.json: /process/user/gid: must be <= 4294967295',
    'config.json: /process/user/uid: must be >= 0',
  ]);
});

t.test('devices need major and minor unless they are FIFOs', async (t) => {
  const config = editedDefault((c) => {
    c.linux['devices'] = [
      { type: 'p', path: '/dev/fifo' },
      { type: 'c', path: '/dev/null', major: 1 },
    ];
  });
  t.same(thrownLines(() => validateConfig(config)), ["config.json: /linux/devices/1: must have required property 'minor'"]);
});

t.test('several errors are reported together, one per line, without repeats', async (t) => {
  const config = editedDefault((c) => {
    c['ociVersion'] = '2.0.0';
    c['hostname'] = 42;
    c.process['args'] = [];
    c.process['env'] = ['A=1', 2];
    c.linux['sysctl'] = { 'net.ipv4.ip_forward': 1 };
    c['root'] = { readonly: 'yes' };
  });
  const lines = thrownLines(() => validateConfig(config));
  t.same(lines.slice().sort(), [
    'config.json: /hostname: must be string',
    'config.json: /linux/sysctl/net.ipv4.ip_forward: must be string',
    'config.json: /ociVersion: unsupported version "2.0.0" (supported: 1.0.0 to 1.3.x)',
    'config.json: /process/args: must NOT have fewer than 1 items',
    'config.json: /process/env/1: must be string',
    'config.json: /root/readonly: must be boolean',
    "config.json: /root: must have required property 'path'",
  ]);
  t.equal(new Set(lines).size, lines.length, 'no line repeats');
});

t.test('ociVersion must be SemVer from 1.0.0 to 1.3.x', async (t) => {
  for (const version of ['1.0.0', '1.0.2-dev', '1.1.0', '1.2.0', '1.2.1', '1.2.10', '1.0.0-rc5', '1.2.0+build.7', '1.3.0', '1.3.1']) {
    t.ok(isSupportedOciVersion(version), `${version} is supported`);
    t.doesNotThrow(() => validateConfig({ ociVersion: version }), `${version} validates`);
  }
  for (const version of ['0.9.0', '1.4.0', '1.4.0-rc1', '2.0.0', 'abc', '1.2', '1.02.0', '', 'v1.2.0']) {
    t.notOk(isSupportedOciVersion(version), `${version} is not supported`);
    t.same(thrownLines(() => validateConfig({ ociVersion: version })), [
      `config.json: /ociVersion: unsupported version ${JSON.stringify(version)} (supported: 1.0.0 to 1.3.x)`,
    ]);
  }
  t.same(thrownLines(() => validateConfig({ ociVersion: 1.2 })), ['config.json: /ociVersion: must be string'], 'a non-string is a type error only');
});

t.test('unknown properties are ignored at every level', async (t) => {
  const config = editedDefault((c) => {
    c['futureField'] = { anything: [1, 2, 3] };
    c['windows'] = { layerFolders: ['C:\\layers\\1'] };
    c['solaris'] = { milestone: 'svc:/milestone/container:default' };
    c['vm'] = { kernel: { path: '/boot/vmlinuz' } };
    c.process['futureProcessField'] = true;
    c.linux['futureLinuxField'] = 'x';
    c.linux['namespaces'] = [{ type: 'pid', futureNamespaceField: 1 }];
  });
  t.same(thrownLines(() => validateConfig(config)), ['<did not throw>']);
});

t.test('the file label names the file', async (t) => {
  t.same(thrownLines(() => validateConfig({}, 'process.json')), ["process.json: /: must have required property 'ociVersion'"]);
});
