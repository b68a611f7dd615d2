/**
 * Pure translation of OCI mount options (the fstab-style words in config.json) into mount(2)
 * flags, propagation changes and the data string passed to the filesystem.
 */

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;

/** Options that set (clear=false) or clear (clear=true) a mount flag. */
const flagOptions: Record<string, { flag: number; clear: boolean }> = {
  ro: { flag: MS_RDONLY, clear: false },
  rw: { flag: MS_RDONLY, clear: true },
  nosuid: { flag: MS_NOSUID, clear: false },
  suid: { flag: MS_NOSUID, clear: true },
  nodev: { flag: MS_NODEV, clear: false },
  dev: { flag: MS_NODEV, clear: true },
  noexec: { flag: MS_NOEXEC, clear: false },
  exec: { flag: MS_NOEXEC, clear: true },
  sync: { flag: MS_SYNCHRONOUS, clear: false },
  async: { flag: MS_SYNCHRONOUS, clear: true },
  dirsync: { flag: MS_DIRSYNC, clear: false },
  remount: { flag: MS_REMOUNT, clear: false },
  mand: { flag: MS_MANDLOCK, clear: false },
  nomand: { flag: MS_MANDLOCK, clear: true },
  atime: { flag: MS_NOATIME, clear: true },
  noatime: { flag: MS_NOATIME, clear: false },
  diratime: { flag: MS_NODIRATIME, clear: true },
  nodiratime: { flag: MS_NODIRATIME, clear: false },
  relatime: { flag: MS_RELATIME, clear: false },
  norelatime: { flag: MS_RELATIME, clear: true },
  strictatime: { flag: MS_STRICTATIME, clear: false },
  nostrictatime: { flag: MS_STRICTATIME, clear: true },
  nosymfollow: { flag: MS_NOSYMFOLLOW, clear: false },
  symfollow: { flag: MS_NOSYMFOLLOW, clear: true },
  bind: { flag: MS_BIND, clear: false },
  rbind: { flag: MS_BIND | MS_REC, clear: false },
};

const propagationOptions: Record<string, number> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

/** mount_setattr(2) attributes (linux/mount.h). */
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_RELATIME = 0x0;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR_NODIRATIME = 0x80;
export const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

/**
 * The recursive options (runc's, mount(8)'s "rro" and friends): attributes set or cleared on
 * the mount and every mount below it. The atime modes are one field: setting one clears it first.
 */
const recursiveOptions: Record<string, { set: number; clear: number }> = {
  rro: { set: MOUNT_ATTR_RDONLY, clear: 0 },
  rrw: { set: 0, clear: MOUNT_ATTR_RDONLY },
  rnosuid: { set: MOUNT_ATTR_NOSUID, clear: 0 },
  rsuid: { set: 0, clear: MOUNT_ATTR_NOSUID },
  rnodev: { set: MOUNT_ATTR_NODEV, clear: 0 },
  rdev: { set: 0, clear: MOUNT_ATTR_NODEV },
  rnoexec: { set: MOUNT_ATTR_NOEXEC, clear: 0 },
  rexec: { set: 0, clear: MOUNT_ATTR_NOEXEC },
  rnodiratime: { set: MOUNT_ATTR_NODIRATIME, clear: 0 },
  rdiratime: { set: 0, clear: MOUNT_ATTR_NODIRATIME },
  rrelatime: { set: MOUNT_ATTR_RELATIME, clear: MOUNT_ATTR__ATIME },
  rnorelatime: { set: 0, clear: 0 }, // relatime is the kernel's default mode, not a flag to clear
  rnoatime: { set: MOUNT_ATTR_NOATIME, clear: MOUNT_ATTR__ATIME },
  // The kernel takes the atime mode whole (all of MOUNT_ATTR__ATIME cleared): back to relatime.
  ratime: { set: MOUNT_ATTR_RELATIME, clear: MOUNT_ATTR__ATIME },
  rstrictatime: { set: MOUNT_ATTR_STRICTATIME, clear: MOUNT_ATTR__ATIME },
  rnostrictatime: { set: MOUNT_ATTR_RELATIME, clear: MOUNT_ATTR__ATIME },
  rnosymfollow: { set: MOUNT_ATTR_NOSYMFOLLOW, clear: 0 },
  rsymfollow: { set: 0, clear: MOUNT_ATTR_NOSYMFOLLOW },
};

/** The options parseMountOptions turns into flags, propagation or recursive attributes (`tsrunc features`); others go to the filesystem. */
export const knownMountOptions: readonly string[] = [
  ...Object.keys(flagOptions), ...Object.keys(propagationOptions), ...Object.keys(recursiveOptions), 'tmpcopyup',
];

export interface ParsedMountOptions {
  flags: number;
  /** Each propagation change is its own mount(2) call, applied in order after mounting. */
  propagation: number[];
  /** Options the kernel flags do not cover, handed to the filesystem (e.g. mode=755). */
  data: string;
  /** The recursive options (rro, rnosuid, ...), for mount_setattr(AT_RECURSIVE) after the mount; undefined: none. */
  recursive: { set: number; clear: number } | undefined;
  /** tmpcopyup (podman's tmpfs mounts): the new tmpfs gets a copy of what the directory held. */
  copyUp: boolean;
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let recursive: { set: number; clear: number } | undefined;
  let copyUp = false;
  for (const option of options) {
    if (option === 'tmpcopyup') {
      copyUp = true;
      continue;
    }
    const flagOption = flagOptions[option];
    if (flagOption) {
      flags = flagOption.clear ? flags & ~flagOption.flag : flags | flagOption.flag;
      continue;
    }
    const propagationFlag = propagationOptions[option];
    if (propagationFlag !== undefined) {
      propagation.push(propagationFlag);
      continue;
    }
    const attribute = recursiveOptions[option];
    if (attribute) {
      // A later option wins over an earlier one for the same attribute.
      recursive ??= { set: 0, clear: 0 };
      recursive.set = (recursive.set & ~attribute.clear & ~attribute.set) | attribute.set;
      recursive.clear = (recursive.clear & ~attribute.set) | attribute.clear;
      continue;
    }
    data.push(option);
  }
  return { flags, propagation, data: data.join(','), recursive, copyUp };
}

/** rootfsPropagation names the spec allows, as mount(2) flags. */
export function rootPropagationFlags(name: string | undefined): number | undefined {
  if (name === undefined || name === '') return undefined;
  return propagationOptions[name];
}
