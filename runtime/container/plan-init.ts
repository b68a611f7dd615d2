/**
 * Pure planner: a validated config.json (plus the bundle and create's flags) → the plan the
 * init carries out and the namespaces the parent enters. Every config error that can be found
 * without touching the system is found here, before anything is created.
 */
import path from 'node:path';
import type { OciConfig } from '../spec/config.js';
import type { InitPlan, MountStep } from '../init/plan.js';
import { TsruncError } from '../errors.js';
import { planNamespaces, type NamespacePlan } from '../linux/namespaces.js';
import { parseMountOptions, rootPropagationFlags } from '../linux/mount-options.js';
import { planCapabilities } from '../linux/capabilities.js';
import { planRlimits } from '../linux/rlimits.js';
import { planDevices } from '../linux/devices.js';
import { planSeccomp } from '../linux/seccomp.js';
import { planSysctl } from '../linux/sysctl.js';
import { planLsm, planMountLabel } from '../linux/lsm.js';
import { checkMountDestination } from '../linux/paths.js';
import { IDMAP_OPTIONS, planIdmap } from '../linux/user-namespace-idmap.js';
import type { ConsolePlan } from '../linux/console.js';

export interface CreateFlags {
  id: string;
  bundle: string;
  stateDir: string;
  noPivot: boolean;
  /** --console-socket, absolute. */
  consoleSocket?: string | undefined;
  /** `run` without --detach: tsrunc stays (and relays the terminal itself when there is no --console-socket). */
  attached?: boolean | undefined;
  /** Extra fds the program gets at 3.. (--preserve-fds, LISTEN_FDS). */
  preserveFds?: number | undefined;
}

export interface ContainerPlan {
  init: InitPlan;
  namespaces: NamespacePlan;
}

function planMounts(config: OciConfig, bundle: string): MountStep[] {
  return (config.mounts ?? []).map((mount, index) => {
    if (!path.isAbsolute(mount.destination)) {
      throw new TsruncError(`config.json: /mounts/${index}/destination: "${mount.destination}" is not an absolute path`);
    }
    // idmap/ridmap are not mount(2) options: user-namespace-idmap.ts makes such a mount.
    const options = parseMountOptions((mount.options ?? []).filter((option) => !IDMAP_OPTIONS.includes(option)));
    const type = mount.type ?? '';
    const isBind = (options.flags & 0x1000) !== 0 || type === 'bind';
    const source = mount.source ?? '';
    if (isBind && source === '') throw new TsruncError(`config.json: /mounts/${index}/source: a bind mount needs a source`);
    const step: MountStep = {
      // Relative bind sources are relative to the bundle (runtime-spec, "Mounts").
      source: isBind && !path.isAbsolute(source) ? path.join(bundle, source) : source,
      // "/dev/" is "/dev": normalize keeps a trailing slash, which would hide the mount from checks.
      destination: path.posix.normalize(mount.destination).replace(/(.)\/+$/, '$1'),
      type: type === 'bind' ? '' : type,
      flags: isBind ? options.flags | 0x1000 : options.flags,
      propagation: options.propagation,
      data: options.data,
      index,
    };
    const idmap = planIdmap(mount, index, isBind, config.linux ?? {});
    if (idmap) step.idmap = idmap;
    // Lexically here; the init checks again once symlinks in the rootfs are followed.
    checkMountDestination(step.destination, { ...step, bind: isBind });
    return step;
  });
}

export function planContainer(config: OciConfig, flags: CreateFlags): ContainerPlan {
  const linux = config.linux ?? {};
  const namespaces = planNamespaces(linux.namespaces ?? [], { uidMappings: linux.uidMappings, gidMappings: linux.gidMappings });
  const has = (type: string) => namespaces.types.includes(type as never);
  if (config.hostname !== undefined && config.hostname !== '' && !has('uts')) {
    throw new TsruncError('config.json: /hostname: setting the hostname needs a uts namespace');
  }
  if (config.domainname !== undefined && config.domainname !== '' && !has('uts')) {
    throw new TsruncError('config.json: /domainname: setting the domainname needs a uts namespace');
  }
  const process = config.process;
  if (process && (!process.args || process.args.length === 0)) {
    throw new TsruncError('config.json: /process/args: must name the program to run');
  }
  const consolePlan = planConsole(process?.terminal === true, flags.consoleSocket, process?.consoleSize, flags.attached);
  if (!config.root?.path) throw new TsruncError('config.json: /root/path: required');

  const propagation = rootPropagationFlags(linux.rootfsPropagation);
  if (linux.rootfsPropagation && propagation === undefined) {
    throw new TsruncError(`config.json: /linux/rootfsPropagation: unknown propagation "${linux.rootfsPropagation}"`);
  }
  const mounts = planMounts(config, flags.bundle);
  const devMount = mounts.find((m) => m.destination === '/dev');
  const user = process?.user ?? { uid: 0, gid: 0 };

  return {
    namespaces,
    init: {
      containerId: flags.id,
      stateDir: flags.stateDir,
      rootfs: {
        rootfs: path.resolve(flags.bundle, config.root.path),
        readonly: config.root.readonly === true,
        propagation,
        noPivot: flags.noPivot,
        chrootOnly: !has('mount'),
        mounts,
        mountDefaultDev: devMount === undefined,
        createDevices: devMount === undefined || (devMount.flags & 0x1000) === 0,
        devices: planDevices(linux.devices ?? []),
        maskedPaths: [...(linux.maskedPaths ?? [])],
        readonlyPaths: [...(linux.readonlyPaths ?? [])],
        mountLabel: planMountLabel(linux.mountLabel),
      },
      hostname: config.hostname || undefined,
      domainname: config.domainname || undefined,
      newCgroupNamespace: namespaces.newCgroupNamespace,
      console: consolePlan,
      preserveFds: flags.preserveFds ?? 0,
      sysctl: planSysctl(linux.sysctl, namespaces.types, {
        hostname: Boolean(config.hostname),
        domainname: Boolean(config.domainname),
        joins: namespaces.joins,
      }),
      process: process && {
        args: [...process.args],
        env: [...(process.env ?? [])],
        cwd: process.cwd,
        uid: user.uid,
        gid: user.gid,
        additionalGids: [...(user.additionalGids ?? [])],
        umask: user.umask,
        noNewPrivileges: process.noNewPrivileges === true,
        oomScoreAdj: process.oomScoreAdj,
        rlimits: planRlimits(process.rlimits ?? []),
        capabilities: process.capabilities ? planCapabilities(process.capabilities) : undefined,
        lsm: planLsm(process.apparmorProfile, process.selinuxLabel),
        seccomp: planSeccomp(linux.seccomp, {
          ociVersion: config.ociVersion, id: flags.id, bundle: flags.bundle, annotations: config.annotations ?? {},
        }),
      },
    },
  };
}

/** process.terminal and --console-socket go together, as in runc (create detaches). */
export function planConsole(
  terminal: boolean,
  consoleSocket: string | undefined,
  size: { height: number; width: number } | undefined,
  attached = false,
): ConsolePlan | undefined {
  if (terminal && consoleSocket === undefined && attached) {
    // run and exec in the foreground pass their own socket (foreground-terminal.ts).
    throw new TsruncError('process.terminal without --console-socket: only run and exec in the foreground relay the terminal themselves; pass --console-socket');
  }
  if (terminal && consoleSocket === undefined) {
    throw new TsruncError('cannot allocate tty if tsrunc will detach without setting console socket (process.terminal is true: pass --console-socket)');
  }
  if (!terminal && consoleSocket !== undefined) {
    throw new TsruncError('cannot use console socket if tsrunc will not detach or allocate tty (process.terminal is false)');
  }
  if (consoleSocket === undefined) return undefined;
  return { socket: path.resolve(consoleSocket), rows: size?.height ?? 0, cols: size?.width ?? 0 };
}
