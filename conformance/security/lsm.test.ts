/**
 * Linux security modules: process.apparmorProfile, process.selinuxLabel, linux.mountLabel.
 * What is applied depends on what the host has enabled; the cases for a module the host lacks
 * run here (this machine: neither AppArmor nor SELinux), the others are skipped where the
 * module is missing. The planning rules are checked for both kinds of host.
 */
import fs from 'node:fs';
import t from 'tap';
import { Sandbox } from '../lib/harness.js';
import { assertNothingLeft, expectCreateFailure, fields, scriptConfig, withProcess } from '../lib/container-helpers.js';
import { apparmorEnabled, planLsm, planMountLabel, selinuxEnabled, withMountLabel } from '../../runtime/linux/lsm.js';
import { devTmpfs, procMount, withLinux } from './helpers.js';

const apparmor = apparmorEnabled();
const selinux = selinuxEnabled();
const label = 'system_u:system_r:container_t:s0:c1,c2';
const mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2';

t.test('what this host offers', async (t) => {
  t.comment(`AppArmor: ${apparmor ? 'enabled' : 'not enabled'} (/sys/kernel/security/apparmor ${fs.existsSync('/sys/kernel/security/apparmor') ? 'present' : 'absent'}, /sys/module/apparmor ${fs.existsSync('/sys/module/apparmor') ? 'present' : 'absent'})`);
  t.comment(`SELinux: ${selinux ? 'enabled' : 'not enabled'} (/sys/fs/selinux ${fs.existsSync('/sys/fs/selinux') ? 'present' : 'absent'})`);
  if (!fs.existsSync('/sys/module/apparmor')) t.equal(apparmor, false, 'no AppArmor module: not enabled');
  if (!fs.existsSync('/sys/fs/selinux')) t.equal(selinux, false, 'no selinuxfs: not enabled');
  t.pass('probed');
});

t.test('planLsm and the mount label, on a host with both modules and on one with neither', async (t) => {
  const both = { apparmor: true, selinux: true };
  const neither = { apparmor: false, selinux: false };
  t.same(planLsm(undefined, undefined, neither), { apparmorProfile: undefined, selinuxLabel: undefined }, 'nothing asked, nothing applied');
  t.same(planLsm('', '', neither), { apparmorProfile: undefined, selinuxLabel: undefined }, 'empty strings ask for nothing');
  t.same(planLsm('docker-default', label, both), { apparmorProfile: 'docker-default', selinuxLabel: label }, 'both applied where enabled');
  t.throws(() => planLsm('docker-default', undefined, neither), {
    message: 'config.json: /process/apparmorProfile: AppArmor is not enabled on this host, so profile "docker-default" cannot be applied',
  }, 'a profile without AppArmor is an error: running unconfined would drop a security setting');
  t.throws(() => planLsm('bad\nname', undefined, both), { message: /\/process\/apparmorProfile: a profile name cannot contain NUL or newline/ });
  t.same(planLsm(undefined, label, neither), { apparmorProfile: undefined, selinuxLabel: undefined }, 'an SELinux label is ignored without SELinux');
  t.same(planLsm(undefined, label, { apparmor: true, selinux: false }), { apparmorProfile: undefined, selinuxLabel: undefined });
  t.equal(planMountLabel(mountLabel, both), mountLabel);
  t.equal(planMountLabel(mountLabel, neither), undefined, 'mountLabel is ignored without SELinux');
  t.equal(planMountLabel('', both), undefined);
  t.equal(withMountLabel('mode=755,size=65536k', mountLabel), `mode=755,size=65536k,context="${mountLabel}"`, "runc's FormatMountLabel");
  t.equal(withMountLabel('', mountLabel), `context="${mountLabel}"`);
  t.equal(withMountLabel('mode=755', undefined), 'mode=755', 'no label, data unchanged');
});

t.test('an AppArmor profile where AppArmor is not enabled fails create', { skip: apparmor && 'AppArmor is enabled here' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  await expectCreateFailure(
    t,
    sandbox,
    withProcess(scriptConfig('true'), { apparmorProfile: 'acme_secure_profile' }),
    /config\.json: \/process\/apparmorProfile: AppArmor is not enabled on this host, so profile "acme_secure_profile" cannot be applied/,
  );
});

t.test('an AppArmor profile is in force after exec', { skip: !apparmor && 'AppArmor is not enabled here' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  // "unconfined" exists wherever AppArmor runs.
  const config = withProcess(scriptConfig('echo current=$(cat /proc/self/attr/current)'), { apparmorProfile: 'unconfined' });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'aa']);
  t.equal(result.status, 0, result.stderr);
  t.match(fields(result.stdout)['current'] ?? '', /^unconfined/);
  assertNothingLeft(t, sandbox);
});

t.test('SELinux labels are ignored where SELinux is not enabled', { skip: selinux && 'SELinux is enabled here' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const script = [
    'echo dev.opts=$(awk \'$5=="/dev" {print $NF}\' /proc/self/mountinfo)',
    'echo tmp.opts=$(awk \'$5=="/tmp" {print $NF}\' /proc/self/mountinfo)',
    'echo ran=yes',
  ].join('\n');
  const config = withLinux(
    withProcess(scriptConfig(script, { overrides: { mounts: [procMount, devTmpfs, { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }] } }), {
      selinuxLabel: label,
    }),
    { mountLabel },
  );
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'se']);
  t.equal(result.status, 0, result.stderr);
  const seen = fields(result.stdout);
  t.equal(seen['ran'], 'yes', 'the container runs: the process label is not written');
  t.notMatch(seen['dev.opts'] ?? '', /context=/, 'the /dev tmpfs has no context= option');
  t.notMatch(seen['tmp.opts'] ?? '', /context=/, 'nor has the /tmp one');
  assertNothingLeft(t, sandbox);
});

t.test('SELinux labels are applied where SELinux is enabled', { skip: !selinux && 'SELinux is not enabled here' }, async (t) => {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const current = fs.readFileSync('/proc/self/attr/current', 'utf8').replace(/\0/g, '').trim();
  // The host's own label is one the policy surely knows.
  const config = withLinux(withProcess(scriptConfig('echo current=$(cat /proc/self/attr/current)'), { selinuxLabel: current }), { mountLabel: current });
  const result = await sandbox.tsrunc(['run', '--bundle', sandbox.bundle(config), 'se']);
  t.equal(result.status, 0, result.stderr);
  t.equal((fields(result.stdout)['current'] ?? '').replace(/\0/g, ''), current);
  assertNothingLeft(t, sandbox);
});
