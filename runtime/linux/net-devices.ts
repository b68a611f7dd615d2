/**
 * linux.netDevices (runtime-spec 1.2+, config-linux.md "Network Devices"): host network devices
 * moved into the container's network namespace (a new one, or one it joins) at create, optionally renamed, their
 * permanent global addresses added again there (the kernel drops addresses on a move) and set up.
 *
 * planNetDevices checks the config (pure, with what it needs of the host passed in);
 * moveNetDevices moves them through rtnetlink once the init, and with it the namespace, exists.
 * A create that fails afterwards moves them back (MovedNetDevices.moveBack). Nothing is done at
 * delete: the spec forbids moving them out, and when the namespace dies the kernel returns
 * physical devices to the host's initial namespace and destroys virtual ones (README, Security);
 * a joined namespace keeps them, for its owner.
 */
import fs from 'node:fs';
import { SyscallError, TsruncError } from '../errors.js';
import { isDebugOn, logDebug, logWarning } from '../log.js';
import type { NamespacePlan, NetDevicePlan } from '../plan/types.js';
import { close, open, O_CLOEXEC, O_RDONLY } from './libc.js';
import {
  IFA_F_PERMANENT, RT_SCOPE_UNIVERSE, RouteSocket, formatAddress, openOwnNetns, type Address,
} from './rtnetlink.js';

const IFNAMSIZ = 16;
const EEXIST = 17;

/** What planning asks of the host. */
export interface NetDeviceHost {
  runtimeIsRoot: boolean;
  /** Whether tsrunc's network namespace has a device of that name. */
  netDeviceExists(name: string): boolean;
}

/** A JSON pointer's escaping of an object key (RFC 6901). */
function pointerKey(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Why `name` cannot name a network device (the kernel's dev_valid_name: 1 to 15 bytes, not "."
 * or "..", no "/", ":" or white space); undefined when it can. `template`: one "%d" may stand
 * for the number the kernel picks (config-linux.md allows it for the name in the container).
 */
export function invalidNetDeviceName(name: string, template: boolean): string | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) return 'it is empty';
  if (bytes >= IFNAMSIZ) return `it is ${bytes} bytes long, longer than the kernel's ${IFNAMSIZ - 1}`;
  if (name === '.' || name === '..') return `"${name}" is not allowed`;
  if (/[/:\s\0]/.test(name)) return 'it holds "/", ":", white space or NUL';
  const percents = name.split('%').length - 1;
  if (percents > 0) {
    if (!template) return 'it holds "%" (a template such as "eth%d" names only the device in the container)';
    if (percents > 1 || !name.includes('%d')) return 'a template holds "%d" once and no other "%"';
  }
  return undefined;
}

/**
 * Pure: linux.netDevices → the devices create moves, in config order, every error found before
 * anything is made, each with its JSON path.
 */
export function planNetDevices(
  netDevices: Record<string, { name?: string | undefined }> | undefined,
  namespaces: NamespacePlan,
  host: NetDeviceHost,
): NetDevicePlan[] {
  const entries = Object.entries(netDevices ?? {});
  if (entries.length === 0) return [];
  const where = 'config.json: /linux/netDevices';
  if (!namespaces.types.includes('network')) {
    throw new TsruncError(`${where}: moving network devices needs a new network namespace in /linux/namespaces; without one the container uses the host's`);
  }
  if (!host.runtimeIsRoot) {
    throw new TsruncError(`${where}: moving network devices needs root (CAP_NET_ADMIN over the host's network namespace), as in runc`);
  }
  // Every network namespace has its loopback: names clash with "lo" or with each other (a joined
  // namespace may hold more; the kernel's EEXIST names those at create).
  const taken = new Map<string, string>([['lo', "the namespace's loopback"]]);
  return entries.map(([hostName, entry]) => {
    const at = `${where}/${pointerKey(hostName)}`;
    const badHost = invalidNetDeviceName(hostName, false);
    if (badHost) throw new TsruncError(`${at}: "${hostName}" is not a valid network device name: ${badHost}`);
    const name = entry.name === undefined || entry.name === '' ? hostName : entry.name;
    const badName = invalidNetDeviceName(name, true);
    if (badName) throw new TsruncError(`${at}/name: "${name}" is not a valid network device name: ${badName}`);
    if (!name.includes('%d')) {
      const holder = taken.get(name);
      if (holder) {
        throw new TsruncError(`${at}${entry.name ? '/name' : ''}: the container's network namespace would already have a device "${name}" (${holder}): choose another name, or a template such as "eth%d"`);
      }
      taken.set(name, `/linux/netDevices/${pointerKey(hostName)}`);
    }
    if (!host.netDeviceExists(hostName)) throw new TsruncError(`${at}: the host has no network device "${hostName}"`);
    return { hostName, name, path: at.slice('config.json: '.length) };
  });
}

function sameFile(a: string, b: string): boolean {
  const [first, second] = [fs.statSync(a), fs.statSync(b)];
  return first.ino === second.ino && first.dev === second.dev;
}

/** A device create moved, and what putting it back needs. */
interface Moved {
  device: NetDevicePlan;
  /** Its index and name in the container's namespace. */
  index: number;
  name: string;
  wasUp: boolean;
  /** Its permanent addresses on the host, added again if it goes back. */
  hostAddresses: Address[];
}

/**
 * Devices moved into a container's network namespace. Holds that namespace (an open fd keeps it
 * alive), so that a failed create can put them back even after its init died; `release` once
 * the create succeeded.
 */
export class MovedNetDevices {
  private readonly moved: Moved[] = [];
  private containerSocket: RouteSocket | undefined;

  private constructor(
    private readonly containerNetns: number,
    private readonly hostNetns: number,
    private readonly host: RouteSocket,
  ) {}

  /**
   * Holds the network namespace of process `initPid` (the container's init), to move devices
   * into: a new one, or one the config joins (a pod's, made by the manager; the devices then stay
   * there after the container, for the namespace's owner to deal with, as runc leaves them).
   */
  static open(initPid: number): MovedNetDevices {
    const nsFile = `/proc/${initPid}/ns/net`;
    if (sameFile(nsFile, '/proc/self/ns/net')) {
      throw new TsruncError("config.json: /linux/netDevices: the container's network namespace is the host's own (the network entry of /linux/namespaces joins it): there is nowhere to move the devices");
    }
    const containerNetns = open(nsFile, O_RDONLY | O_CLOEXEC, 0, `opening the network namespace of the container init (pid ${initPid})`);
    let hostNetns: number | undefined;
    try {
      hostNetns = openOwnNetns();
      return new MovedNetDevices(containerNetns, hostNetns, RouteSocket.open('the host'));
    } catch (error) {
      if (hostNetns !== undefined) close(hostNetns);
      close(containerNetns);
      throw error;
    }
  }

  /**
   * Moves `devices` into the container's network namespace, renamed, with their permanent global
   * addresses, up. A failure throws with what was moved recorded, for moveBack().
   */
  move(devices: readonly NetDevicePlan[]): void {
    this.containerSocket = RouteSocket.openIn(this.containerNetns, this.hostNetns, "the container's network namespace");
    for (const device of devices) this.moveOne(device, this.containerSocket);
  }

  private moveOne(device: NetDevicePlan, inContainer: RouteSocket): void {
    const context = (what: string) => `config.json: ${device.path}: ${what}`;
    const link = this.host.link(device.hostName, context(`looking ${device.hostName} up on the host`));
    if (!link) throw new TsruncError(context(`the host has no network device "${device.hostName}" (any more)`));
    const addresses = this.host.addresses(link.index, context(`listing the addresses of ${device.hostName}`))
      .filter((address) => (address.flags & IFA_F_PERMANENT) !== 0);
    const taken = () => new TsruncError(context(`the container's network namespace already has a device named ${device.name}`));
    // Asked first: the kernel may move the device under its own name and only then refuse the new one.
    if (!device.name.includes('%d') && inContainer.link(device.name, context(`looking ${device.name} up in the container's network namespace`))) throw taken();
    try {
      this.host.setLink(link.index, { netnsFd: this.containerNetns, name: device.name }, context(`moving ${device.hostName} into the container's network namespace as ${device.name}`));
    } catch (error) {
      // Moved all the same (a name taken meanwhile): recorded, so that moveBack returns it.
      const movedAnyway = !this.host.link(device.hostName, context(`looking ${device.hostName} up on the host again`)) && inContainer.link(link.index, context(`finding ${device.hostName} in the container's network namespace`));
      if (movedAnyway) this.moved.push({ device, index: movedAnyway.index, name: movedAnyway.name, wasUp: link.up, hostAddresses: addresses });
      if (error instanceof SyscallError && error.errno === EEXIST) throw taken();
      throw error;
    }
    // Recorded at once: whatever fails from here on, moveBack finds it (by its index, kept below).
    const moved: Moved = { device, index: link.index, name: device.name, wasUp: link.up, hostAddresses: addresses };
    this.moved.push(moved);
    // A moved device keeps its index unless the namespace has it already: look it up by index
    // first (a "%d" name is the kernel's choice), by name if not.
    const finding = context(`finding ${device.name} in the container's network namespace`);
    const template = device.name.includes('%d');
    const byIndex = inContainer.link(link.index, finding);
    const there = byIndex && (template || byIndex.name === device.name) ? byIndex : template ? undefined : inContainer.link(device.name, finding);
    if (!there) throw new TsruncError(context(`${device.hostName} was moved, but the container's network namespace shows no such device`));
    moved.index = there.index;
    moved.name = there.name;
    // "all permanent IP addresses (IFA_F_PERMANENT flag) of any family with global scope" (the spec).
    for (const address of addresses.filter((a) => a.scope === RT_SCOPE_UNIVERSE)) {
      inContainer.addAddress(there.index, address, context(`adding ${formatAddress(address)} to ${there.name} in the container`));
    }
    // "The runtime MUST set the network device state to "up" after moving it".
    inContainer.setLink(there.index, { up: true }, context(`setting ${there.name} up in the container`));
    if (isDebugOn()) {
      const kept = addresses.filter((a) => a.scope === RT_SCOPE_UNIVERSE).map(formatAddress);
      logDebug(`net device ${device.hostName} moved in as ${there.name} (index ${there.index}), up, addresses: ${kept.join(' ') || 'none'}`);
    }
  }

  /** The create succeeded: the devices stay, the namespace is the container's to keep alive. */
  release(): void {
    this.containerSocket?.close();
    this.host.close();
    close(this.hostNetns);
    close(this.containerNetns);
  }

  /**
   * The create failed: every device moved goes back to the host under its own name, with its
   * permanent addresses, up if it was. What cannot be put back is a warning (the create's own
   * error is the one reported).
   */
  moveBack(): void {
    const inContainer = this.containerSocket;
    // Without the container's socket nothing was moved.
    for (const moved of inContainer ? [...this.moved].reverse() : []) {
      const { hostName } = moved.device;
      const context = (what: string) => `create failed, and ${what}`;
      try {
        inContainer?.setLink(moved.index, { netnsFd: this.hostNetns, name: hostName }, context(`moving ${moved.name} back to the host as ${hostName}`));
        const link = this.host.link(hostName, context(`finding ${hostName} back on the host`));
        if (!link) throw new TsruncError(context(`${hostName} was moved back, but the host shows no such device`));
        // Up first: the kernel then makes its own addresses (IPv6 link-local) again, and those are skipped.
        if (moved.wasUp) this.host.setLink(link.index, { up: true }, context(`setting ${hostName} up again`));
        for (const address of moved.hostAddresses) {
          try {
            this.host.addAddress(link.index, address, context(`adding ${formatAddress(address)} to ${hostName} again`));
          } catch (error) {
            if (!(error instanceof SyscallError && error.errno === EEXIST)) throw error;
          }
        }
      } catch (error) {
        logWarning(error instanceof Error ? error.message : String(error));
      }
    }
    this.moved.length = 0;
    this.release();
  }
}
