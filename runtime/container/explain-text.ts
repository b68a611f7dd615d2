/**
 * `tsrunc explain`'s text: the plan (explain.ts) for a person, section by section in the order
 * create applies it. Every number the kernel takes is shown by name (mount flags, capabilities,
 * seccomp actions); nothing here decides anything.
 */
import type { MountStep, NamespacePlan, ProcessPlan, SeccompPlan } from '../plan/types.js';
import type { OciHooks } from '../spec/config.js';
import {
  MS_BIND, MS_DIRSYNC, MS_MANDLOCK, MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_NOSYMFOLLOW,
  MS_PRIVATE, MS_RDONLY, MS_REC, MS_RELATIME, MS_REMOUNT, MS_SHARED, MS_SLAVE, MS_STRICTATIME, MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from '../linux/mount-options.js';
import { capabilityName } from '../linux/capabilities.js';
import { actionName } from '../linux/seccomp.js';
import type { CgroupExplanation, Explanation } from './explain.js';

const FLAG_NAMES: [number, string][] = [
  [MS_RDONLY, 'ro'], [MS_NOSUID, 'nosuid'], [MS_NODEV, 'nodev'], [MS_NOEXEC, 'noexec'], [MS_SYNCHRONOUS, 'sync'],
  [MS_REMOUNT, 'remount'], [MS_MANDLOCK, 'mand'], [MS_DIRSYNC, 'dirsync'], [MS_NOSYMFOLLOW, 'nosymfollow'],
  [MS_NOATIME, 'noatime'], [MS_NODIRATIME, 'nodiratime'], [MS_RELATIME, 'relatime'], [MS_STRICTATIME, 'strictatime'],
];

function flagWords(flags: number): string[] {
  const words = FLAG_NAMES.filter(([flag]) => (flags & flag) !== 0).map(([, name]) => name);
  if (flags & MS_BIND) words.unshift(flags & MS_REC ? 'rbind' : 'bind');
  return words;
}

function propagationWord(flags: number): string {
  const kind = flags & MS_SHARED ? 'shared' : flags & MS_SLAVE ? 'slave' : flags & MS_PRIVATE ? 'private' : flags & MS_UNBINDABLE ? 'unbindable' : `0x${flags.toString(16)}`;
  return flags & MS_REC ? `r${kind}` : kind;
}

function mountLine(mount: MountStep, position: number): string {
  const bind = (mount.flags & MS_BIND) !== 0;
  const what = bind ? `${mount.source} (bind${mount.detached ? ', made as a detached mount by tsrunc' : ''})` : `${mount.type} ${mount.source || '(no source)'}`;
  const options = [...flagWords(mount.flags), ...mount.propagation.map(propagationWord)];
  if (mount.data !== '') options.push(mount.data);
  if (mount.idmap) options.push(mount.idmap.recursive ? 'ridmap' : 'idmap');
  if (mount.copyUp) options.push('tmpcopyup');
  if (mount.recursive) options.push(`recursive attributes set 0x${mount.recursive.set.toString(16)} cleared 0x${mount.recursive.clear.toString(16)}`);
  return `  ${position}. ${mount.destination} <- ${what}${options.length > 0 ? ` [${options.join(',')}]` : ''}`;
}

function namespaceLines(ns: NamespacePlan): string[] {
  const joined = new Set(ns.joins.map((join) => join.type));
  const made = ns.types.filter((type) => !joined.has(type));
  const lines = [`namespaces`, `  new: ${made.length > 0 ? made.join(' ') : '(none: the host\'s)'}`];
  for (const join of ns.joins) lines.push(`  joined: ${join.type} ${join.path}`);
  const shared = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'].filter((type) => !ns.types.includes(type as never));
  if (shared.length > 0) lines.push(`  the host's: ${shared.join(' ')}`);
  if (ns.user) {
    for (const [kind, maps] of [['uid', ns.user.uidMappings], ['gid', ns.user.gidMappings]] as const) {
      for (const map of maps) lines.push(`  ${kind} map: container ${map.containerID} -> host ${map.hostID} (${map.size})`);
    }
  }
  for (const offset of ns.timeOffsets ?? []) lines.push(`  time offset: ${offset.clock} ${offset.secs}s ${offset.nanosecs}ns`);
  return lines;
}

function cgroupLines(cgroup: CgroupExplanation): string[] {
  const lines = [`cgroup${cgroup.onlyIfDelegated ? ' (rootless: only where delegated to this user, else none)' : ''}`];
  for (const [hierarchy, dir] of Object.entries(cgroup.paths)) lines.push(`  ${hierarchy === '' ? 'unified' : hierarchy}: ${dir}`);
  const write = (w: { dir: string; file: string; value: string }) => `    ${w.dir}/${w.file} = ${JSON.stringify(w.value)}`;
  lines.push(cgroup.writes.length > 0 ? '  writes, in order:' : '  writes: none (no linux.resources)');
  lines.push(...cgroup.writes.map(write));
  if (cgroup.afterReady.length > 0) lines.push('  once the init is ready:', ...cgroup.afterReady.map(write));
  return lines;
}

function seccompLines(seccomp: SeccompPlan): string[] {
  const flags = [
    seccomp.flags.log ? 'LOG' : '', seccomp.flags.specAllow === 'yes' || seccomp.flags.specAllow === 'default' ? 'SPEC_ALLOW' : '',
    seccomp.flags.waitKillableRecv ? 'WAIT_KILLABLE_RECV' : '', seccomp.notify ? 'NEW_LISTENER' : '',
  ].filter((flag) => flag !== '');
  const lines = [
    `  seccomp: default ${actionName(seccomp.defaultAction)}; architectures: native${seccomp.architectures.map((a) => ` ${a.name}`).join('')}; flags: ${flags.join(' ') || 'none'}`,
  ];
  const byAction = new Map<string, string[]>();
  for (const rule of seccomp.rules) {
    const key = actionName(rule.action);
    const names = rule.names.map((name) => (rule.conditionSets.length > 0 ? `${name}(args)` : name));
    byAction.set(key, [...(byAction.get(key) ?? []), ...names]);
  }
  for (const [action, all] of byAction) {
    const names = [...new Set(all)]; // a syscall with several argument conditions is one rule per condition set
    lines.push(`    ${action}: ${names.length} syscalls: ${names.join(' ')}`);
  }
  if (seccomp.listener) lines.push(`    notify fd sent to ${seccomp.listener.path}`);
  return lines;
}

function processLines(proc: ProcessPlan | undefined, terminal: boolean): string[] {
  if (!proc) return ['process: none (the container can be created, never started)'];
  const lines = [
    'process',
    `  args: ${JSON.stringify(proc.args)}`,
    `  cwd: ${proc.cwd}`,
    `  user: uid ${proc.uid} gid ${proc.gid}${proc.additionalGids.length > 0 ? ` groups ${proc.additionalGids.join(',')}` : ''}`,
    `  terminal: ${terminal ? 'yes' : 'no'}`,
    `  env: ${proc.env.length === 0 ? '(empty)' : ''}`,
    ...proc.env.map((entry) => `    ${entry}`),
    `  noNewPrivileges: ${proc.noNewPrivileges ? 'yes' : 'no'}`,
  ];
  if (proc.umask !== undefined) lines.push(`  umask: ${proc.umask.toString(8).padStart(4, '0')}`);
  if (proc.oomScoreAdj !== undefined) lines.push(`  oomScoreAdj: ${proc.oomScoreAdj}`);
  if (proc.capabilities) {
    lines.push('  capabilities:');
    for (const [set, numbers] of Object.entries(proc.capabilities)) {
      lines.push(`    ${set}: ${numbers.length === 0 ? '(none)' : numbers.map(capabilityName).join(' ')}`);
    }
  } else {
    lines.push("  capabilities: unchanged (the config names none: root's full sets)");
  }
  for (const limit of proc.rlimits) lines.push(`  rlimit ${limit.type}: soft ${limit.soft} hard ${limit.hard}`);
  const attributes = proc.attributes;
  if (attributes.scheduler) lines.push(`  scheduler: policy ${attributes.scheduler.policy} nice ${attributes.scheduler.nice} priority ${attributes.scheduler.priority} flags 0x${attributes.scheduler.flags.toString(16)}`);
  if (attributes.ioPriority !== undefined) lines.push(`  I/O priority: class ${attributes.ioPriority >> 13} level ${attributes.ioPriority & 7}`);
  if (attributes.initialCpus) lines.push(`  CPUs until the exec: ${attributes.initialCpus.join(',')}`);
  if (attributes.finalCpus) lines.push(`  CPUs from the exec: ${attributes.finalCpus.join(',')}`);
  if (attributes.personality !== undefined) lines.push(`  personality: 0x${attributes.personality.toString(16)}`);
  if (proc.lsm.apparmorProfile) lines.push(`  apparmor: ${proc.lsm.apparmorProfile}`);
  if (proc.lsm.selinuxLabel) lines.push(`  selinux: ${proc.lsm.selinuxLabel}`);
  lines.push(...(proc.seccomp ? seccompLines(proc.seccomp) : ['  seccomp: none']));
  return lines;
}

const HOOK_PLACES: [keyof OciHooks & string, string][] = [
  ['prestart', "run by tsrunc in the runtime's namespaces, after the namespaces exist, before pivot_root"],
  ['createRuntime', "run by tsrunc in the runtime's namespaces, after prestart"],
  ['createContainer', "run by the stage in the container's namespaces, before pivot_root"],
  ['startContainer', "run by the stage in the container, at start, before the process"],
  ['poststart', "run by tsrunc start in the runtime's namespaces, once the process runs"],
  ['poststop', "run by tsrunc delete in the runtime's namespaces"],
];

function hookLines(hooks: OciHooks | undefined): string[] {
  const lines = ['hooks, in the order they run'];
  for (const [kind, where] of HOOK_PLACES) {
    const list = hooks?.[kind] ?? [];
    if (list.length === 0) continue;
    lines.push(`  ${kind} (${where}):`);
    for (const hook of list) {
      lines.push(`    ${JSON.stringify([hook.path, ...(hook.args ?? []).slice(1)])}${hook.timeout !== undefined ? ` timeout ${hook.timeout}s` : ''}`);
    }
  }
  if (lines.length === 1) lines.push('  none');
  return lines;
}

export function explainText(explanation: Explanation): string {
  const { plan, config } = explanation;
  const rootfs = plan.rootfs;
  const how = rootfs.chrootOnly ? 'chroot only (no mount namespace: no mounts applied)' : rootfs.noPivot ? 'MS_MOVE + chroot (--no-pivot)' : 'pivot_root';
  const lines = [
    `bundle ${explanation.bundle}, container ${explanation.id} (config.json ociVersion ${config.ociVersion})`,
    `state directory ${plan.stateDir}`,
    '',
    ...namespaceLines(plan.namespaces),
  ];
  if (plan.hostname !== undefined) lines.push(`hostname: ${plan.hostname}`);
  if (plan.domainname !== undefined) lines.push(`domainname: ${plan.domainname}`);
  if (plan.netDevices.length > 0) {
    lines.push('network devices moved in from the host (host name -> name in the container):', ...plan.netDevices.map((d) => `  ${d.hostName} -> ${d.name}`));
  }
  if (plan.sysctl.length > 0) lines.push('sysctl (written inside the container):', ...plan.sysctl.map(([key, value]) => `  ${key} = ${value}`));
  lines.push(
    '',
    `root ${rootfs.rootfs} (${rootfs.readonly ? 'read-only' : 'read-write'}), entered by ${how}` +
      (rootfs.propagation !== undefined ? `, root propagation ${propagationWord(rootfs.propagation)}` : ''),
    'mounts, in the order they are made (destination <- source [options]):',
    ...rootfs.mounts.map((mount, i) => mountLine(mount, i + 1)),
  );
  if (rootfs.mountDefaultDev) lines.push('  and the default /dev entries (a tmpfs /dev, /dev/pts, /dev/shm, /dev/mqueue where the config has none)');
  if (rootfs.devices.length > 0 || rootfs.createDevices) {
    lines.push(`device nodes (${rootfs.createDevices ? 'mknod' : 'bind-mounted from the host'}):`);
    for (const device of rootfs.devices) {
      lines.push(`  ${device.path} ${device.type} ${device.major}:${device.minor} mode ${device.fileMode.toString(8)} uid ${device.uid} gid ${device.gid}`);
    }
  }
  if (rootfs.maskedPaths.length > 0) lines.push(`masked paths: ${rootfs.maskedPaths.join(' ')}`);
  if (rootfs.readonlyPaths.length > 0) lines.push(`read-only paths: ${rootfs.readonlyPaths.join(' ')}`);
  lines.push('', ...cgroupLines(explanation.cgroup), '', ...processLines(plan.process, config.process?.terminal === true), '', ...hookLines(config.hooks));
  return `${lines.join('\n')}\n`;
}
