/**
 * linux.sysctl in real containers: a namespaced sysctl is visible inside and the host's value
 * is unchanged; one that is not namespaced for this config is refused at create, with nothing
 * left behind.
 */
import t from 'tap';
import { Sandbox, busyboxConfig } from '../lib/harness.js';
import { assertNothingLeft, expectCreateFailure, fields, scriptConfig } from '../lib/container-helpers.js';
import { hostValues, namespacesWithout, withLinux } from './helpers.js';

const files = {
  ipForward: '/proc/sys/net/ipv4/ip_forward',
  loForwarding: '/proc/sys/net/ipv4/conf/lo/forwarding',
  shmmax: '/proc/sys/kernel/shmmax',
  msgmax: '/proc/sys/kernel/msgmax',
  mqMsgMax: '/proc/sys/fs/mqueue/msg_max',
  domainname: '/proc/sys/kernel/domainname',
  rmemMax: '/proc/sys/net/core/rmem_max',
  corePattern: '/proc/sys/kernel/core_pattern',
};
const hostFiles = Object.values(files);

/** A value other than the host's, so a leak would show. */
function differentFrom(current: string, candidates: string[]): string {
  return candidates.find((c) => c !== current)!;
}

t.test('namespaced sysctls are set inside and the host is unchanged', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const before = hostValues(hostFiles);
  const wanted = {
    'net.ipv4.ip_forward': differentFrom(before[files.ipForward]!, ['1', '0']),
    'net/ipv4/conf/lo/forwarding': differentFrom(before[files.loForwarding]!, ['1', '0']),
    'kernel.shmmax': differentFrom(before[files.shmmax]!, ['123456789', '987654321']),
    'kernel/msgmax': differentFrom(before[files.msgmax]!, ['4096', '8000']),
    'fs.mqueue.msg_max': differentFrom(before[files.mqMsgMax]!, ['77', '78']),
    'kernel.domainname': 'sysctl.example',
  };
  const script = [
    `echo ip_forward=$(cat ${files.ipForward})`,
    `echo lo_forwarding=$(cat ${files.loForwarding})`,
    `echo shmmax=$(cat ${files.shmmax})`,
    `echo msgmax=$(cat ${files.msgmax})`,
    `echo mq_msg_max=$(cat ${files.mqMsgMax})`,
    `echo domainname=$(cat ${files.domainname})`,
  ].join('\n');
  const bundle = sandbox.bundle(withLinux(scriptConfig(script), { sysctl: wanted }));
  const result = await sandbox.tsrunc(['run', '--bundle', bundle, 'sysctl']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['ip_forward'], wanted['net.ipv4.ip_forward'], 'net.ipv4.ip_forward inside the new network namespace');
  t.equal(seen['lo_forwarding'], wanted['net/ipv4/conf/lo/forwarding'], 'a key written with slashes');
  t.equal(seen['shmmax'], wanted['kernel.shmmax'], 'kernel.shmmax inside the new ipc namespace');
  t.equal(seen['msgmax'], wanted['kernel/msgmax'], 'kernel.msgmax');
  t.equal(seen['mq_msg_max'], wanted['fs.mqueue.msg_max'], 'fs.mqueue.msg_max (the ipc namespace too)');
  t.equal(seen['domainname'], 'sysctl.example', 'kernel.domainname inside the new uts namespace');
  t.same(hostValues(hostFiles), before, "the host's values are unchanged");
  assertNothingLeft(t, sandbox);
});

t.test('sysctls are written before readonlyPaths make /proc/sys read-only', async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const before = hostValues(hostFiles);
  const script = [
    `echo ip_forward=$(cat ${files.ipForward})`,
    `echo 0 > ${files.ipForward} 2>/dev/null; echo write=$?`,
    `echo after=$(cat ${files.ipForward})`,
  ].join('\n');
  const config = withLinux(scriptConfig(script), { sysctl: { 'net.ipv4.ip_forward': '1' }, readonlyPaths: ['/proc/sys'] });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'ro']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['ip_forward'], '1', 'the sysctl is set');
  t.not(seen['write'], '0', 'the container cannot change it through the read-only /proc/sys');
  t.equal(seen['after'], '1');
  t.same(hostValues(hostFiles), before, "the host's values are unchanged");
  assertNothingLeft(t, sandbox);
});

t.test('refused at create when not namespaced for this config', async (t) => {
  const before = hostValues(hostFiles);
  const cases: [string, Record<string, string>, object[] | undefined, RegExp][] = [
    ['net.* without a network namespace', { 'net.ipv4.ip_forward': '1' }, namespacesWithout('network'),
      /config\.json: \/linux\/sysctl\/net\.ipv4\.ip_forward: sysctl "net\.ipv4\.ip_forward" is not in a separate kernel namespace: it needs a new network namespace/],
    ["net.* in tsrunc's own network namespace, joined by path", { 'net.ipv4.ip_forward': '1' },
      [...namespacesWithout('network'), { type: 'network', path: '/proc/self/ns/net' }], /needs a new network namespace/],
    ['kernel.shmmax without an ipc namespace', { 'kernel.shmmax': '1' }, namespacesWithout('ipc'),
      /config\.json: \/linux\/sysctl\/kernel\.shmmax: sysctl "kernel\.shmmax" is not in a separate kernel namespace: it needs a new ipc namespace/],
    ['fs.mqueue.* without an ipc namespace', { 'fs/mqueue/msg_max': '20' }, namespacesWithout('ipc'),
      /config\.json: \/linux\/sysctl\/fs~1mqueue~1msg_max: .*needs a new ipc namespace/],
    ['kernel.domainname without a uts namespace', { 'kernel.domainname': 'x' }, namespacesWithout('uts'), /needs a new uts namespace/],
    ['kernel.hostname, which has its own field', { 'kernel.hostname': 'x' }, undefined, /kernel\.hostname" conflicts with the \/hostname field/],
    ['kernel.core_pattern (host-wide)', { 'kernel.core_pattern': '|/tmp/x' }, undefined,
      /config\.json: \/linux\/sysctl\/kernel\.core_pattern: sysctl "kernel\.core_pattern" is not in a separate kernel namespace$/],
    ['vm.swappiness (host-wide)', { 'vm.swappiness': '1' }, undefined, /"vm\.swappiness" is not in a separate kernel namespace$/],
    ['a path that climbs out of net/', { 'net/../kernel/core_pattern': '|/tmp/x' }, undefined, /is not a sysctl name$/],
  ];
  for (const [name, sysctl, namespaces, expected] of cases) {
    await t.test(name, async (t) => {
      const sandbox = new Sandbox();
      t.teardown(() => sandbox.cleanup());
      const linux = namespaces === undefined ? { sysctl } : { sysctl, namespaces };
      await expectCreateFailure(t, sandbox, withLinux(busyboxConfig(['true']), linux), expected);
    });
  }
  t.same(hostValues(hostFiles), before, "the host's values are unchanged");
});

t.test('a sysctl the kernel refuses fails create cleanly', async (t) => {
  const before = hostValues(hostFiles);
  await t.test('a global net.core sysctl is read-only in a new network namespace', async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    const value = differentFrom(before[files.rmemMax]!, ['212992', '425984']);
    await expectCreateFailure(t, sandbox, withLinux(busyboxConfig(['true']), { sysctl: { 'net.core.rmem_max': value } }),
      /config\.json: \/linux\/sysctl\/net\.core\.rmem_max: setting \/proc\/sys\/net\/core\/rmem_max: open: EACCES/);
  });
  await t.test('a net sysctl that does not exist', async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    await expectCreateFailure(t, sandbox, withLinux(busyboxConfig(['true']), { sysctl: { 'net.ipv4.no_such_sysctl': '1' } }),
      /config\.json: \/linux\/sysctl\/net\.ipv4\.no_such_sysctl: setting \/proc\/sys\/net\/ipv4\/no_such_sysctl: open: ENOENT/);
  });
  await t.test('a value the kernel rejects', async (t) => {
    const sandbox = new Sandbox();
    t.teardown(() => sandbox.cleanup());
    await expectCreateFailure(t, sandbox, withLinux(busyboxConfig(['true']), { sysctl: { 'net.ipv4.ip_forward': 'not-a-number' } }),
      /config\.json: \/linux\/sysctl\/net\.ipv4\.ip_forward: setting \/proc\/sys\/net\/ipv4\/ip_forward: write: EINVAL/);
  });
  t.same(hostValues(hostFiles), before, "the host's values are unchanged");
});
