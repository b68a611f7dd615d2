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

/** The options parseMountOptions turns into flags or propagation (`tsrunc features`); others go to the filesystem. */
export const knownMountOptions: readonly string[] = [...Object.keys(flagOptions), ...Object.keys(propagationOptions)];

export interface ParsedMountOptions {
  flags: number;
  /** Each propagation change is its own mount(2) call, applied in order after mounting. */
  propagation: number[];
  /** Options the kernel flags do not cover, handed to the filesystem (e.g. mode=755). */
  data: string;
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const option of options) {
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
    data.push(option);
  }
  return { flags, propagation, data: data.join(',') };
}

/** rootfsPropagation names the spec allows, as mount(2) flags. */
export function rootPropagationFlags(name: string | undefined): number | undefined {
  if (name === undefined || name === '') return undefined;
  return propagationOptions[name];
}
