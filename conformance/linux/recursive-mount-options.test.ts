/**
 * The recursive mount options (rro, rnosuid, rnodev, rnoexec, rnosymfollow, rnoatime): applied
 * with mount_setattr(AT_RECURSIVE) to a bind mount and every mount below it. Plain `ro` on an
 * rbind leaves the submounts writable (as with runc); `rro` does not: a write at any depth fails
 * and nothing reaches the host directory.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sandbox } from '../lib/harness.js';
import { fields, runScript } from '../lib/container-helpers.js';

/** A host directory with a tmpfs mounted inside it (at sub/), the test's own; unmounted at teardown. */
function sourceWithSubmount(t: Test, sandbox: Sandbox): string {
  const source = path.join(sandbox.dir, 'source');
  fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tsrunc-test', path.join(source, 'sub')]);
  t.teardown(() => execFileSync('umount', [path.join(source, 'sub')]));
  return source;
}

const script = [
  'opts() { awk -v p="$1" \'$2==p {o=$4} END {print o}\' /proc/mounts; }',
  'touch /data/top 2>/dev/null; echo top.write=$?',
  'touch /data/sub/deep 2>/dev/null; echo deep.write=$?',
  'echo top.opts=$(opts /data)',
  'echo deep.opts=$(opts /data/sub)',
].join('\n');

async function run(t: Test, options: string[]): Promise<{ report: Record<string, string>; source: string }> {
  const sandbox = new Sandbox();
  t.teardown(() => sandbox.cleanup());
  const source = sourceWithSubmount(t, sandbox);
  const result = await runScript(sandbox, script, {
    overrides: {
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/data', type: 'bind', source, options: ['rbind', ...options] },
      ],
    },
  });
  t.equal(result.status, 0, result.stderr);
  return { report: fields(result.stdout), source };
}

const words = (opts: string | undefined): string[] => (opts ?? '').split(',');

t.test('ro on an rbind: only the top mount is read-only (the submount stays writable)', async (t) => {
  const { report, source } = await run(t, ['ro']);
  t.not(report['top.write'], '0', 'the top refuses writes');
  t.equal(report['deep.write'], '0', 'the submount takes them: this is what rro is for');
  t.ok(fs.existsSync(path.join(source, 'sub', 'deep')));
});

t.test('rro: read-only at every depth, nothing written on the host', async (t) => {
  const { report, source } = await run(t, ['rro']);
  t.not(report['top.write'], '0', 'the top refuses writes');
  t.not(report['deep.write'], '0', 'the submount refuses writes');
  t.ok(words(report['top.opts']).includes('ro'), `top: ${report['top.opts']}`);
  t.ok(words(report['deep.opts']).includes('ro'), `deep: ${report['deep.opts']}`);
  t.same(fs.readdirSync(path.join(source, 'sub')), [], 'nothing reached the host');
  t.same(fs.readdirSync(source), ['sub']);
});

t.test('rnosuid, rnodev, rnoexec, rnosymfollow and rnoatime reach the submount', async (t) => {
  const { report } = await run(t, ['rnosuid', 'rnodev', 'rnoexec', 'rnosymfollow', 'rnoatime']);
  for (const depth of ['top', 'deep']) {
    const opts = words(report[`${depth}.opts`]);
    for (const flag of ['nosuid', 'nodev', 'noexec', 'nosymfollow', 'noatime']) t.ok(opts.includes(flag), `${depth}: ${flag} in ${opts.join(',')}`);
  }
  t.equal(report['deep.write'], '0', 'and it stays writable');
});

t.test('a later option wins: rro then rrw leaves it writable', async (t) => {
  const { report } = await run(t, ['rro', 'rrw']);
  t.equal(report['deep.write'], '0');
  t.equal(report['top.write'], '0');
});
