/**
 * planSysctl: which sysctls a config may set, given its namespaces (runc's rules), and how
 * keys written with dots or slashes map to files under /proc/sys. No container is started.
 */
import t from 'tap';
import { dottedSysctlKey, ipcSysctls, planSysctl, sysctlFile } from '../../runtime/linux/sysctl.js';
import { planContainer } from '../../runtime/container/plan-init.js';
import type { OciConfig } from '../../runtime/spec/config.js';

const all = ['pid', 'network', 'mount', 'ipc', 'uts'];
const notSeparate = (pointer: string, key: string) =>
  new RegExp(`^config\\.json: ${pointer.replace(/[.]/g, '\\.')}: sysctl "${key.replace(/[.]/g, '\\.')}" is not in a separate kernel namespace`);

t.test('key forms: dots, slashes, and a dot inside a name', async (t) => {
  t.equal(dottedSysctlKey('net.ipv4.ip_forward'), 'net.ipv4.ip_forward');
  t.equal(dottedSysctlKey('net/ipv4/ip_forward'), 'net.ipv4.ip_forward', 'slashes become dots');
  t.equal(dottedSysctlKey('net/ipv4/conf/eth0.100/rp_filter'), 'net.ipv4.conf.eth0/100.rp_filter', 'a dot in a slash key is part of a name');
  t.equal(dottedSysctlKey('net.ipv4.conf.eth0/100.rp_filter'), 'net.ipv4.conf.eth0/100.rp_filter', 'a dotted key keeps its slashes');
  t.equal(dottedSysctlKey('kernel'), 'kernel');
  t.equal(sysctlFile('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  t.equal(sysctlFile('net.ipv4.conf.eth0/100.rp_filter'), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  t.equal(sysctlFile(dottedSysctlKey('fs/mqueue/msg_max')), '/proc/sys/fs/mqueue/msg_max');
});

t.test('accepted with the namespace they belong to', async (t) => {
  t.same(planSysctl(undefined, []), [], 'none');
  t.same(planSysctl({}, []), []);
  const sysctl = {
    'net.ipv4.ip_forward': '1',
    'net/ipv6/conf/all/disable_ipv6': '1',
    'kernel.shmmax': '123456',
    'fs.mqueue.msg_max': '20',
    'fs/mqueue/queues_max': '300',
    'kernel.domainname': 'example.org',
  };
  t.same(planSysctl(sysctl, all), Object.entries(sysctl), 'every key kept as written, in order');
  for (const key of ipcSysctls) t.same(planSysctl({ [key]: '1' }, ['ipc']), [[key, '1']], `${key} with an ipc namespace`);
  t.same(planSysctl({ 'net.core.somaxconn': '1024' }, ['network']), [['net.core.somaxconn', '1024']], 'any net.* with a network namespace, as runc');
  t.same(planSysctl({ 'net.ipv4.ip_forward': '1' }, ['network'], { joins: [{ type: 'network', path: '/no/such/netns' }] }), [['net.ipv4.ip_forward', '1']],
    'a joined network namespace other than the runtime\'s own');
});

t.test('refused without their namespace, naming the JSON path', async (t) => {
  t.throws(() => planSysctl({ 'net.ipv4.ip_forward': '1' }, ['pid', 'mount', 'ipc', 'uts']), {
    message: 'config.json: /linux/sysctl/net.ipv4.ip_forward: sysctl "net.ipv4.ip_forward" is not in a separate kernel namespace: it needs a new network namespace in /linux/namespaces',
  });
  t.throws(() => planSysctl({ 'kernel.shmmax': '1' }, ['pid', 'mount', 'network', 'uts']), {
    message: notSeparate('/linux/sysctl/kernel.shmmax', 'kernel.shmmax'),
  });
  t.throws(() => planSysctl({ 'fs.mqueue.msg_max': '1' }, ['network']), { message: /needs a new ipc namespace/ });
  t.throws(() => planSysctl({ 'kernel.domainname': 'x' }, ['ipc', 'network']), { message: /needs a new uts namespace/ });
  t.throws(() => planSysctl({ 'net/ipv4/ip_forward': '1' }, []), {
    message: notSeparate('/linux/sysctl/net~1ipv4~1ip_forward', 'net/ipv4/ip_forward'),
  }, 'a slash in the key is escaped in the JSON pointer');
});

t.test('never namespaced: refused whatever the namespaces', async (t) => {
  for (const key of ['kernel.core_pattern', 'vm.swappiness', 'kernel.pid_max', 'fs.file-max', 'kernel.shm_next_id', 'dev.tty.ldisc_autoload', 'kernel']) {
    t.throws(() => planSysctl({ [key]: '1' }, all), { message: `config.json: /linux/sysctl/${key}: sysctl "${key}" is not in a separate kernel namespace` }, key);
  }
  t.throws(() => planSysctl({ 'user.max_user_namespaces': '0' }, all), { message: /is not in a separate kernel namespace: it needs a user namespace/ });
  t.throws(() => planSysctl({ 'net.ipv4.ip_forward': '1', 'vm.overcommit_memory': '1' }, all), { message: /vm\.overcommit_memory/ }, 'one bad key among good ones');
});

t.test('hostname and domainname', async (t) => {
  t.throws(() => planSysctl({ 'kernel.hostname': 'box' }, all), {
    message: 'config.json: /linux/sysctl/kernel.hostname: sysctl "kernel.hostname" conflicts with the /hostname field: use /hostname instead',
  }, 'kernel.hostname is refused even with a uts namespace, as runc does');
  t.throws(() => planSysctl({ 'kernel.hostname': 'box' }, ['mount']), { message: /is not in a separate kernel namespace: it needs a new uts namespace/ });
  t.throws(() => planSysctl({ 'kernel.domainname': 'a' }, all, { domainname: true }), { message: /conflicts with \/domainname/ });
  t.same(planSysctl({ 'kernel.domainname': 'a' }, all, { hostname: true }), [['kernel.domainname', 'a']], 'a hostname does not conflict with the domainname');
});

t.test("a joined namespace that is the runtime's own is no separate namespace", async (t) => {
  const own = { joins: [{ type: 'network', path: '/proc/self/ns/net' }] };
  t.throws(() => planSysctl({ 'net.ipv4.ip_forward': '1' }, ['network'], own), { message: /needs a new network namespace/ });
  t.throws(() => planSysctl({ 'kernel.shmmax': '1' }, ['ipc'], { joins: [{ type: 'ipc', path: '/proc/self/ns/ipc' }] }), { message: /needs a new ipc namespace/ });
  t.throws(() => planSysctl({ 'kernel.domainname': 'x' }, ['uts'], { joins: [{ type: 'uts', path: `/proc/${process.pid}/ns/uts` }] }), { message: /needs a new uts namespace/ },
    'the same namespace under another name');
});

t.test('malformed keys and values', async (t) => {
  for (const key of ['net..ipv4', 'net.ipv4.', '.net', 'net/../kernel/core_pattern', 'net/./ipv4/ip_forward', 'net.ipv4/../../kernel.x', '', 'net.a\0b']) {
    t.throws(() => planSysctl({ [key]: '1' }, all), { message: /is not a sysctl name$/ }, JSON.stringify(key));
  }
  t.throws(() => planSysctl({ 'net.ipv4.ip_forward': '1\u00002' }, all), { message: 'config.json: /linux/sysctl/net.ipv4.ip_forward: the value cannot contain NUL' });
});

t.test('planContainer passes the namespaces, hostname and joins', async (t) => {
  const base: OciConfig = {
    ociVersion: '1.2.0',
    process: { args: ['sh'], cwd: '/' },
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'network' }] },
  };
  const flags = { id: 'c1', bundle: '/b', stateDir: '/run/tsrunc/c1', noPivot: false };
  const plan = planContainer({ ...base, linux: { ...base.linux, sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.domainname': 'd' } } }, flags);
  t.same(plan.sysctl, [['net.ipv4.ip_forward', '1'], ['kernel.domainname', 'd']]);
  t.throws(() => planContainer({ ...base, linux: { ...base.linux, sysctl: { 'kernel.shmmax': '1' } } }, flags), { message: /kernel\.shmmax.*needs a new ipc namespace/ });
  t.throws(() => planContainer({ ...base, domainname: 'x', linux: { ...base.linux, sysctl: { 'kernel.domainname': 'd' } } }, flags), { message: /conflicts with \/domainname/ });
  const joined: OciConfig['linux'] = {
    namespaces: [{ type: 'mount' }, { type: 'network', path: '/proc/self/ns/net' }],
    sysctl: { 'net.ipv4.ip_forward': '1' },
  };
  t.throws(() => planContainer({ ...base, linux: joined }, flags), { message: /needs a new network namespace/ }, "joining tsrunc's own network namespace");
});
