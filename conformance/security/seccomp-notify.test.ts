/**
 * linux.seccomp NOTIFY in real busybox containers, with a seccomp agent (seccomp-listener.js)
 * that receives the fd and the container process state over listenerPath and answers; and, with
 * strace, the syscalls tsrunc's init makes between loading the filter and execve.
 */
import path from 'node:path';
import t from 'tap';
import type { JsonObject } from '../lib/harness.js';
import { waitFor } from '../lib/harness.js';
import { assertNothingLeft, fields } from '../lib/container-helpers.js';
import {
  DOCKER_CAPS, config, deny, event, hasCommand, newSandbox, postLoadSyscalls, run, startListener,
} from './seccomp-helpers.js';

t.test('NOTIFY: the listener gets the fd and the container state, and answers the syscall', async (t) => {
  const sandbox = newSandbox(t);
  const socket = path.join(sandbox.dir, 'agent.sock');
  const listener = await startListener(t, socket, 'errno:18');
  const script = 'mkdir /tmp/a; echo mkdir=$?; mkdir /tmp/b; echo again=$?; ls -l /proc/1/fd | grep -c seccomp; echo done';
  const cfg = config(script, {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: socket,
    listenerMetadata: 'MKNOD=/dev/null;agent=test',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  }, {}, { annotations: { 'org.example.owner': 'seccomp-test' } });
  const bundle = sandbox.bundle(cfg);
  const created = await sandbox.create('notify', bundle);
  t.equal(created.status, 0, created.stderr);
  t.ok(await waitFor(() => event(listener, 'connected') !== undefined), 'create connects to the listener (before pivot_root: it is a host path)');
  t.equal(event(listener, 'state'), undefined, 'nothing is sent before start: the filter is loaded right before execve');
  const state = JSON.parse((await sandbox.tsrunc(['state', 'notify'])).stdout) as { pid: number };

  const started = await sandbox.tsrunc(['start', 'notify']);
  t.equal(started.status, 0, started.stderr);
  await listener.exited;
  t.ok(await waitFor(async () => JSON.parse((await sandbox.tsrunc(['state', 'notify'])).stdout).status === 'stopped', 10_000), 'the container ends');

  const received = event(listener, 'state') as { state: JsonObject; fdCount: number; fdTarget: string } | undefined;
  t.ok(received, 'the listener got the container process state');
  t.same(received?.state, {
    ociVersion: '1.3.0', // the runtime's spec version (runc: specs.Version)
    fds: ['seccompFd'],
    pid: state.pid,
    metadata: 'MKNOD=/dev/null;agent=test',
    state: { ociVersion: '1.2.0', id: 'notify', status: 'created', pid: state.pid, bundle, annotations: { 'org.example.owner': 'seccomp-test' } },
  }, 'the runtime-spec container process state: pid as the runtime sees it, listenerMetadata, the OCI state');
  t.equal(received?.fdCount, 1, 'one fd, sent with SCM_RIGHTS');
  t.equal(received?.fdTarget, 'anon_inode:seccomp notify', 'the seccomp notify fd');
  const notification = event(listener, 'notification') as { nr: number; pid: number } | undefined;
  t.equal(notification?.nr, 83, 'the notification is mkdir (83 on x86_64)');
  t.ok(event(listener, 'answered'), 'the listener answered');

  const output = sandbox.output('notify');
  t.match(output, "mkdir: can't create directory '/tmp/a': Invalid cross-device link", "the listener's answer (-EXDEV) is what mkdir returns");
  t.match(output, "mkdir: can't create directory '/tmp/b': Function not implemented", 'once the listener closed the fd, notified syscalls fail with ENOSYS');
  t.same(fields(output), { mkdir: '1', again: '1' });
  t.match(output, /^0\ndone$/m, 'the container process does not hold the notify fd');
  const deleted = await sandbox.tsrunc(['delete', 'notify']);
  t.equal(deleted.status, 0, deleted.stderr);
  assertNothingLeft(t, sandbox);
});

t.test('NOTIFY: a listener that lets the syscall continue; WAIT_KILLABLE_RECV', async (t) => {
  const sandbox = newSandbox(t);
  const socket = path.join(sandbox.dir, 'agent.sock');
  const listener = await startListener(t, socket, 'continue');
  const result = await run(sandbox, config('mkdir /tmp/a; echo mkdir=$?; test -d /tmp/a && echo made=yes', {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: socket,
    flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  }));
  await listener.exited;
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { mkdir: '0', made: 'yes' });
  t.ok(event(listener, 'answered'));
  const received = event(listener, 'state') as { state: { metadata?: string; state: JsonObject } } | undefined;
  t.equal(received?.state.metadata, undefined, 'no listenerMetadata: no metadata field');
  t.equal(received?.state.state['annotations'], undefined, 'no annotations: no annotations field');
  assertNothingLeft(t, sandbox);
});

t.test('NOTIFY: a listener that closes the fd at once makes notified syscalls fail with ENOSYS', async (t) => {
  const sandbox = newSandbox(t);
  const socket = path.join(sandbox.dir, 'agent.sock');
  const listener = await startListener(t, socket, 'close');
  const result = await run(sandbox, config('mkdir /tmp/a; echo mkdir=$?', {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: socket,
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  }));
  await listener.exited;
  t.ok(event(listener, 'closed'));
  t.equal(result.status, 0, result.stderr);
  t.same(fields(result.stdout), { mkdir: '1' });
  t.match(result.stderr, 'Function not implemented');
  assertNothingLeft(t, sandbox);
});

t.test('NOTIFY: a listener gone by start makes start fail, naming the socket', async (t) => {
  const sandbox = newSandbox(t);
  const socket = path.join(sandbox.dir, 'agent.sock');
  const listener = await startListener(t, socket, 'close');
  const bundle = sandbox.bundle(config('echo started', {
    defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  }));
  const created = await sandbox.create('gone', bundle);
  t.equal(created.status, 0, created.stderr);
  t.ok(await waitFor(() => event(listener, 'connected') !== undefined), 'connected at create');
  listener.child.kill('SIGKILL');
  await listener.exited;
  const started = await sandbox.tsrunc(['start', 'gone']);
  t.equal(started.status, 1, 'start fails');
  t.match(started.stderr, new RegExp(`sending the seccomp notify fd to ${socket.replace(/[.]/g, '\\.')} \\(/linux/seccomp/listenerPath\\): sendmsg: EPIPE`));
  t.notMatch(sandbox.output('gone'), 'started', 'the container process never ran');
  const deleted = await sandbox.tsrunc(['delete', '--force', 'gone']);
  t.equal(deleted.status, 0, deleted.stderr);
  assertNothingLeft(t, sandbox);
});

t.test('post-load: between loading the filter and execve the init makes no other syscall', { skip: !hasCommand('strace') && 'strace is not installed' }, async (t) => {
  const sandbox = newSandbox(t);
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [deny(['mkdir'])] };
  const plain = await postLoadSyscalls(sandbox, config('true', seccomp));
  t.equal(plain.result.status, 0, plain.result.stderr);
  t.same(plain.between, [], 'seccomp(2), then execve');
  const caps = { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS };
  const dropped = await postLoadSyscalls(sandbox, config('true', seccomp, { capabilities: caps }));
  t.equal(dropped.result.status, 0, dropped.result.stderr);
  t.same(dropped.between, ['capset'], 'without noNewPrivileges and CAP_SYS_ADMIN: one capset drops what the load needed');
  const nnp = await postLoadSyscalls(sandbox, config('true', seccomp, { capabilities: caps, noNewPrivileges: true }));
  t.same(nnp.between, [], 'with noNewPrivileges: nothing');
  const socket = path.join(sandbox.dir, 'agent.sock');
  const listener = await startListener(t, socket, 'close');
  const notify = await postLoadSyscalls(sandbox, config('true', {
    defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  }));
  await listener.exited;
  t.equal(notify.result.status, 0, notify.result.stderr);
  t.same(notify.between, ['sendmsg', 'close'], 'NOTIFY: the fd and the state in one sendmsg, then the connection is closed');
  assertNothingLeft(t, sandbox);
});

