/**
 * `tsrunc check`: everything that would make `create` fail, found at once and without making
 * anything: the schema's problems, then what only this host can tell (files, executables,
 * cgroup controllers, namespaces, capabilities, filesystems), then the planner create uses and
 * libseccomp. Each problem names its JSON path in config.json and what to do. The planner stops
 * at its first error, so a second planner-only problem shows once the first is fixed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsruncError } from '../errors.js';
import type { OciConfig } from '../spec/config.js';
import { validateConfig } from '../spec/validate.js';
import { detectLayout } from '../linux/cgroups/layout.js';
import { capabilityName, capabilityNames, lastCapability } from '../linux/capabilities.js';
import { planSysctl } from '../linux/sysctl.js';
import { namespaceFileProblem } from '../linux/stage-fds.js';
import { buildSeccomp, prepareSeccomp } from '../linux/seccomp.js';
import type { NamespacePlan, NamespaceType } from '../plan/types.js';
import { planNetDevices } from '../linux/net-devices.js';
import { realHost } from './plan-init.js';
import { explainConfig } from './explain.js';

export interface Problem {
  /** A JSON pointer into config.json ('' for the file itself). */
  path: string;
  message: string;
}

export interface CheckReport {
  bundle: string;
  /** What would make create fail. */
  problems: Problem[];
  /** What create accepts with a warning. */
  warnings: Problem[];
}

export interface CheckOptions {
  root: string;
  bundle: string | undefined;
  rootless: 'true' | 'false' | 'auto' | undefined;
}

export function checkBundle(options: CheckOptions): CheckReport {
  const bundle = path.resolve(options.bundle ?? process.cwd());
  const report: CheckReport = { bundle, problems: [], warnings: [] };
  const file = path.join(bundle, 'config.json');
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    report.problems.push({ path: '', message: `cannot read ${file}: ${why}` });
    return report;
  }
  try {
    validateConfig(value);
  } catch (error) {
    if (!(error instanceof TsruncError)) throw error;
    report.problems.push(...error.message.split('\n').map(parseProblem));
    // Host checks read a config of the schema's shape; the rootfs is worth telling anyway.
    const rootPath = (value as { root?: { path?: unknown } } | null)?.root?.path;
    if (typeof rootPath === 'string') report.problems.push(...rootfsProblems(bundle, rootPath));
    return report;
  }
  const config = value as OciConfig;
  const hostProblems = [
    ...rootfsProblems(bundle, config.root?.path ?? ''),
    ...mountProblems(bundle, config),
    ...hookProblems(config),
    ...cgroupControllerProblems(config),
    ...sysctlProblems(config),
    ...netDeviceProblems(config),
    ...capabilityProblems(config, report.warnings),
    ...namespaceProblems(config),
  ];
  report.problems.push(...hostProblems);
  // Then create's own planning: id maps, mounts, devices, seccomp, cgroup paths... Its first
  // error is one more problem unless a host check above already named that path.
  try {
    const { plan } = explainConfig(config, bundle, {
      root: options.root, id: 'check', bundle, noPivot: false, noNewKeyring: false, consoleSocket: undefined, rootless: options.rootless,
    });
    if (plan.rootfs.createDevices) {
      // The stage's mknod is refused in a user namespace and without root: it binds the host's node instead.
      const bindsHostNodes = plan.namespaces.types.includes('user') || !plan.runtimeIsRoot;
      report.problems.push(...deviceProblems(config, bindsHostNodes, report.warnings));
    }
    const proc = plan.process;
    // libseccomp compiles the filter as create would; names it does not know create skips.
    if (proc?.seccomp) {
      const { skipped } = prepareSeccomp(() => buildSeccomp(proc.seccomp!, proc, lastCapability()));
      for (const rule of proc.seccomp.rules) {
        rule.names.forEach((name, index) => {
          if (!skipped.includes(name)) return;
          report.warnings.push({ path: `${rule.path}/names/${index}`, message: `libseccomp here does not know the syscall "${name}": create leaves it out of the filter` });
        });
      }
    }
  } catch (error) {
    if (!(error instanceof TsruncError)) throw error;
    for (const problem of error.message.split('\n').map(parseProblem)) {
      if (!report.problems.some((known) => known.path !== '' && problem.path.startsWith(known.path))) report.problems.push(problem);
    }
  }
  return report;
}

/** "config.json: /a/b: message" (the planner's and the schema's form) as a problem. */
function parseProblem(line: string): Problem {
  // "config.json: /a/b: message", also after a step's words ("preparing the seccomp filter: config.json: ...").
  const named = /^(?:(.*?): )?config\.json: (\/[^:]*): (.*)$/.exec(line) ?? /^()(\/[^:]*): (.*)$/.exec(line);
  if (named) return { path: named[2]!, message: named[1] ? `${named[3]!} (${named[1]})` : named[3]! };
  // "rootfs: /x: no such directory (config.json /root/path)"
  const trailing = /\(config\.json (\/\S+)\)$/.exec(line);
  return { path: trailing?.[1] ?? '', message: line.replace(/^config\.json: /, '') };
}

function rootfsProblems(bundle: string, rootPath: string): Problem[] {
  const rootfs = path.resolve(bundle, rootPath);
  try {
    if (fs.statSync(rootfs).isDirectory()) return [];
    return [{ path: '/root/path', message: `${rootfs} is not a directory: point root.path at the container's root filesystem` }];
  } catch {
    return [{ path: '/root/path', message: `${rootfs} does not exist: unpack the image there or fix root.path (relative to the bundle)` }];
  }
}

/** Filesystem types this kernel can mount, from /proc/filesystems. */
function knownFilesystems(): Set<string> {
  const text = fs.readFileSync('/proc/filesystems', 'utf8');
  return new Set(text.split('\n').map((line) => line.split('\t').pop()!.trim()).filter((name) => name !== ''));
}

function mountProblems(bundle: string, config: OciConfig): Problem[] {
  const problems: Problem[] = [];
  const filesystems = knownFilesystems();
  (config.mounts ?? []).forEach((mount, index) => {
    const options = mount.options ?? [];
    const isBind = mount.type === 'bind' || options.includes('bind') || options.includes('rbind');
    if (isBind) {
      const source = path.resolve(bundle, mount.source ?? '');
      if (mount.source !== undefined && !fs.existsSync(source)) {
        problems.push({ path: `/mounts/${index}/source`, message: `${source} does not exist: a bind mount's source must (relative sources are relative to the bundle)` });
      }
    } else if (mount.type !== undefined && mount.type !== '' && mount.type !== 'none' && !filesystems.has(mount.type)) {
      problems.push({ path: `/mounts/${index}/type`, message: `this kernel knows no filesystem "${mount.type}" (/proc/filesystems): fix the type or load its module` });
    }
  });
  return problems;
}

function hookProblems(config: OciConfig): Problem[] {
  const problems: Problem[] = [];
  for (const [kind, hooks] of Object.entries(config.hooks ?? {})) {
    (hooks ?? []).forEach((hook, index) => {
      const where = `/hooks/${kind}/${index}/path`;
      if (!path.isAbsolute(hook.path)) {
        problems.push({ path: where, message: `"${hook.path}" is not an absolute path: hooks are run by absolute path` });
        return;
      }
      try {
        fs.accessSync(hook.path, fs.constants.X_OK);
        if (!fs.statSync(hook.path).isFile()) problems.push({ path: where, message: `${hook.path} is not a file` });
      } catch (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        problems.push({ path: where, message: missing ? `${hook.path} does not exist on this host` : `${hook.path} is not executable: chmod +x it` });
      }
    });
  }
  return problems;
}

/** The controllers each linux.resources key needs, as v1 and as v2 name them. */
const CONTROLLERS: Record<string, { v1: string[]; v2: string[] }> = {
  memory: { v1: ['memory'], v2: ['memory'] },
  cpu: { v1: ['cpu'], v2: ['cpu'] },
  pids: { v1: ['pids'], v2: ['pids'] },
  blockIO: { v1: ['blkio'], v2: ['io'] },
  hugepageLimits: { v1: ['hugetlb'], v2: ['hugetlb'] },
  network: { v1: ['net_cls', 'net_prio'], v2: [] },
  rdma: { v1: ['rdma'], v2: ['rdma'] },
};

function cgroupControllerProblems(config: OciConfig): Problem[] {
  const resources = config.linux?.resources;
  if (!resources) return [];
  const layout = detectLayout();
  const v1 = new Set(layout.hierarchies.flatMap((hierarchy) => hierarchy.controllers));
  const v2 = layout.unified ? new Set(readControllers(layout.unified.mountPoint)) : new Set<string>();
  const problems: Problem[] = [];
  for (const [key, needed] of Object.entries(CONTROLLERS)) {
    const value = (resources as Record<string, unknown>)[key];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    const names = layout.version === 2 ? needed.v2 : needed.v1;
    // cpuset limits (cpus, mems) live in their own controller.
    if (key === 'cpu' && (resources.cpu?.cpus || resources.cpu?.mems)) names.push('cpuset');
    // On a hybrid host hugetlb may be on the unified hierarchy only (tsrunc uses it there).
    const missing = names.filter((name) => !v1.has(name) && !(layout.version === 2 || key === 'hugepageLimits' ? v2.has(name) : false));
    if (layout.version === 2 && key === 'network') {
      problems.push({ path: `/linux/resources/network`, message: 'cgroup v2 has no net_cls/net_prio controller: remove the limit' });
    } else if (missing.length > 0) {
      problems.push({ path: `/linux/resources/${key}`, message: `this host has no ${missing.join(', ')} cgroup controller: remove the limit or enable the controller` });
    }
  }
  return problems;
}

function readControllers(dir: string): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter((name) => name !== '');
  } catch {
    return [];
  }
}

function sysctlProblems(config: OciConfig): Problem[] {
  const types = (config.linux?.namespaces ?? []).map((ns) => ns.type as string);
  const joins = (config.linux?.namespaces ?? []).filter((ns) => ns.path).map((ns) => ({ type: ns.type as NamespaceType, path: ns.path! }));
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(config.linux?.sysctl ?? {})) {
    try {
      planSysctl({ [key]: value }, types, { hostname: Boolean(config.hostname), domainname: Boolean(config.domainname), joins });
    } catch (error) {
      if (!(error instanceof TsruncError)) throw error;
      problems.push(parseProblem(error.message));
    }
  }
  return problems;
}

/**
 * linux.netDevices: every entry create would refuse (a device the host lacks, a bad or clashing
 * name), not only the first. An entry is checked with those accepted before it, for clashes.
 */
function netDeviceProblems(config: OciConfig): Problem[] {
  const entries = Object.entries(config.linux?.netDevices ?? {});
  const declared = config.linux?.namespaces ?? [];
  const namespaces: NamespacePlan = {
    unshareFlags: 0, newCgroupNamespace: false,
    types: declared.map((ns) => ns.type as NamespaceType),
    joins: declared.filter((ns) => ns.path).map((ns) => ({ type: ns.type as NamespaceType, path: ns.path! })),
  };
  const accepted: Record<string, { name?: string | undefined }> = {};
  const problems: Problem[] = [];
  for (const [name, entry] of entries) {
    try {
      planNetDevices({ ...accepted, [name]: entry }, namespaces, realHost);
      accepted[name] = entry;
    } catch (error) {
      if (!(error instanceof TsruncError)) throw error;
      const problem = parseProblem(error.message);
      problems.push(problem);
      if (problem.path === '/linux/netDevices') break; // about them all (no new network namespace, not root): once
    }
  }
  return problems;
}

function capabilityProblems(config: OciConfig, warnings: Problem[]): Problem[] {
  const known = new Set(capabilityNames);
  const last = lastCapability();
  const problems: Problem[] = [];
  for (const [set, names] of Object.entries(config.process?.capabilities ?? {})) {
    (names as string[]).forEach((name, index) => {
      const number = capabilityNames.indexOf(name); // the names are in number order
      if (!known.has(name)) {
        warnings.push({ path: `/process/capabilities/${set}/${index}`, message: `unknown capability "${name}": create leaves it out (see capabilities(7) for the CAP_* names)` });
      } else if (number > last) {
        problems.push({ path: `/process/capabilities/${set}/${index}`, message: `${name} is newer than this kernel (its last is ${capabilityName(last)}): remove it` });
      }
    });
  }
  return problems;
}

function namespaceProblems(config: OciConfig): Problem[] {
  const problems: Problem[] = [];
  (config.linux?.namespaces ?? []).forEach((ns, index) => {
    if (!ns.path) return;
    const problem = namespaceFileProblem(ns.type as NamespaceType, ns.path);
    if (problem) problems.push({ path: `/linux/namespaces/${index}/path`, message: `${problem.replace(/^namespace \w+: /, '')}: give the path of a ${ns.type} namespace (e.g. /proc/PID/ns/...) or leave out path for a new one` });
  });
  return problems;
}

/**
 * Device nodes: made with mknod, a node of a device this host lacks is only a warning (opening
 * it fails with ENXIO); bind-mounted from the host (a user namespace), the host's node must exist.
 */
function deviceProblems(config: OciConfig, bindsHostNodes: boolean, warnings: Problem[]): Problem[] {
  const problems: Problem[] = [];
  (config.linux?.devices ?? []).forEach((device, index) => {
    if (device.type !== 'c' && device.type !== 'b' && device.type !== 'u') return;
    if (bindsHostNodes && !fs.existsSync(device.path)) {
      problems.push({ path: `/linux/devices/${index}/path`, message: `${device.path} does not exist on this host: in a user namespace device nodes are bind-mounted from the host's` });
      return;
    }
    const kind = device.type === 'b' ? 'block' : 'char';
    if (device.major !== undefined && device.minor !== undefined && !fs.existsSync(`/sys/dev/${kind}/${device.major}:${device.minor}`)) {
      warnings.push({ path: `/linux/devices/${index}`, message: `this host has no ${kind} device ${device.major}:${device.minor}: ${device.path} is made, but opening it fails (ENXIO)` });
    }
  });
  return problems;
}
