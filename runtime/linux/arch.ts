/**
 * What differs between the architectures tsrunc runs on, in one table: the numbers of the
 * system calls it makes through syscall(2) (glibc has no wrapper for them), and open(2) flags
 * whose values differ. The struct layouts tsrunc builds by hand (msghdr, cmsghdr, iovec, pollfd,
 * open_how, mount_attr, bpf_attr) are the same on every 64-bit little-endian Linux listed here.
 * Another architecture gets one clear error at the first call that needs the table.
 */
import { TsruncError } from '../errors.js';

export interface ArchTable {
  syscalls: {
    bpf: number;
    openTree: number;
    mountSetattr: number;
    pidfdOpen: number;
    pidfdSendSignal: number;
    seccomp: number;
    keyctl: number;
  };
  open: { O_DIRECTORY: number; O_NOFOLLOW: number; O_PATH: number };
}

const tables: Record<string, ArchTable> = {
  x64: {
    syscalls: { bpf: 321, openTree: 428, mountSetattr: 442, pidfdOpen: 434, pidfdSendSignal: 424, seccomp: 317, keyctl: 250 },
    open: { O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_PATH: 0o10000000 },
  },
  arm64: {
    syscalls: { bpf: 280, openTree: 428, mountSetattr: 442, pidfdOpen: 434, pidfdSendSignal: 424, seccomp: 277, keyctl: 219 },
    open: { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_PATH: 0o10000000 },
  },
};

let table: ArchTable | undefined;

export function arch(): ArchTable {
  if (table) return table;
  const found = tables[process.arch];
  if (!found) {
    throw new TsruncError(`tsrunc does not know the system calls of ${process.arch} (it knows ${Object.keys(tables).join(', ')}): see runtime/linux/arch.ts`);
  }
  return (table = found);
}
