/**
 * The koffi binding of libseccomp (Debian's libseccomp2). Nothing is loaded when this module is
 * imported: loadLibseccomp() opens the library the first time a config asks for seccomp, so
 * containers without seccomp and every other command never pay for it.
 *
 * libseccomp compiles the rules into a BPF program in `tsrunc create` (or `exec`), while it
 * can still report every error as one line; the native stage loads that program with one
 * seccomp(2) call right before it execs the container's process, as runc does with its own
 * exported program (libcontainer/seccomp/patchbpf).
 */
import fs from 'node:fs';
import { TsruncError } from '../errors.js';
import { arch } from './arch.js';
import { errnoName, ffi, memfdCreate, rawSyscall, type Koffi } from './libc.js';

export const LIBSECCOMP = 'libseccomp.so.2';

/**
 * enum scmp_filter_attr (seccomp.h), the ones used. CTL_NNP and CTL_TSYNC only matter to
 * seccomp_load, which is not used (the program is loaded with seccomp(2) directly);
 * CTL_WAITKILL exists from libseccomp 2.6.0.
 */
export const SCMP_FLTATR_CTL_LOG = 6;
export const SCMP_FLTATR_CTL_SSB = 7;
export const SCMP_FLTATR_CTL_OPTIMIZE = 8;

/** seccomp_syscall_resolve_name's answer for a name it does not know on this architecture. */
export const NR_SCMP_ERROR = -1;

/** One argument condition, struct scmp_arg_cmp; datums are uint64. */
export interface ArgCondition {
  arg: number;
  op: number;
  datumA: bigint;
  datumB: bigint;
}

/** An opaque scmp_filter_ctx. */
export type FilterContext = { readonly __brand: 'scmp_filter_ctx' };

export interface Libseccomp {
  /** "2.5.4" */
  version: string;
  /** seccomp_api_get(): 5 and up can NOTIFY. */
  apiLevel: number;
  init(defaultAction: number): FilterContext;
  release(ctx: FilterContext): void;
  /** 0, or -errno (-EEXIST for an architecture already in the filter, such as the native one). */
  archAdd(ctx: FilterContext, token: number): number;
  /** The SCMP_ARCH_* token of a libseccomp architecture name ("x86_64"), or 0 when unknown. */
  archResolve(name: string): number;
  /** 0 or -errno. */
  attrSet(ctx: FilterContext, attr: number, value: number): number;
  /** The syscall number on the native architecture; NR_SCMP_ERROR when unknown, other negatives for pseudo-syscalls. */
  resolveSyscall(name: string): number;
  /** The syscall number on the architecture `token` (x32's carry bit 30); NR_SCMP_ERROR when unknown there. */
  resolveSyscallArch(token: number, name: string): number;
  /** 0 or -errno. */
  ruleAdd(ctx: FilterContext, action: number, syscall: number, conditions: ArgCondition[]): number;
  /** The compiled BPF program: an array of struct sock_filter (8 bytes each). */
  exportBpf(ctx: FilterContext): Buffer;
}

/** The seccomp(2) probe tsrunc makes itself (the stage loads the filter). */
export interface SeccompSyscalls {
  /** Whether the kernel knows these SECCOMP_FILTER_FLAG_* bits (probed with a NULL program: EFAULT = known). */
  flagsSupported(flags: number): boolean;
}

type Fn<A extends unknown[], R> = (...args: A) => R;

let cached: { lib: Libseccomp; syscalls: SeccompSyscalls } | undefined;
let typesDeclared = false;

/**
 * Opens libseccomp (once). `file` is for tests; a missing library is one clear error naming
 * the package, because only a config with linux.seccomp needs it.
 */
export function loadLibseccomp(file: string = LIBSECCOMP): { lib: Libseccomp; syscalls: SeccompSyscalls } {
  if (cached && file === LIBSECCOMP) return cached;
  let handle: ReturnType<Koffi['load']>;
  try {
    handle = ffi().load(file);
  } catch (error) {
    throw new TsruncError(
      `linux.seccomp needs ${file} (Debian/Ubuntu package libseccomp2, Fedora libseccomp), which cannot be loaded: ${(error as Error).message}`,
    );
  }
  const declare = <A extends unknown[], R>(prototype: string): Fn<A, R> => handle.func(prototype) as unknown as Fn<A, R>;
  if (!typesDeclared) {
    ffi().struct('tsrunc_scmp_arg_cmp', { arg: 'uint32_t', op: 'int', datum_a: 'uint64_t', datum_b: 'uint64_t' });
    ffi().struct('tsrunc_scmp_version', { major: 'uint32_t', minor: 'uint32_t', micro: 'uint32_t' });
    typesDeclared = true;
  }
  const c = {
    version: declare<[], unknown>('const tsrunc_scmp_version *seccomp_version(void)'),
    apiGet: declare<[], number>('unsigned int seccomp_api_get(void)'),
    init: declare<[number], unknown>('void *seccomp_init(uint32_t def_action)'),
    release: declare<[unknown], void>('void seccomp_release(void *ctx)'),
    archAdd: declare<[unknown, number], number>('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    archResolve: declare<[string], number>('uint32_t seccomp_arch_resolve_name(const char *name)'),
    attrSet: declare<[unknown, number, number], number>('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    resolve: declare<[string], number>('int seccomp_syscall_resolve_name(const char *name)'),
    resolveArch: declare<[number, string], number>('int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)'),
    ruleAddArray: declare<[unknown, number, number, number, unknown], number>(
      'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const tsrunc_scmp_arg_cmp *arg_array)',
    ),
    exportBpf: declare<[unknown, number], number>('int seccomp_export_bpf(void *ctx, int fd)'),
  };

  const versionStruct = ffi().decode(c.version(), 'tsrunc_scmp_version') as { major: number; minor: number; micro: number };
  const SECCOMP_SET_MODE_FILTER = 1;
  const EFAULT = 14;

  const lib: Libseccomp = {
    version: `${versionStruct.major}.${versionStruct.minor}.${versionStruct.micro}`,
    apiLevel: c.apiGet(),
    init(defaultAction) {
      const ctx = c.init(defaultAction >>> 0);
      if (ctx === null) throw new TsruncError(`seccomp_init: libseccomp refused the default action 0x${(defaultAction >>> 0).toString(16)}`);
      return ctx as FilterContext;
    },
    release: (ctx) => c.release(ctx),
    archAdd: (ctx, token) => c.archAdd(ctx, token >>> 0),
    archResolve: (name) => c.archResolve(name) >>> 0,
    attrSet: (ctx, attr, value) => c.attrSet(ctx, attr, value >>> 0),
    resolveSyscall: (name) => c.resolve(name),
    resolveSyscallArch: (token, name) => c.resolveArch(token >>> 0, name),
    ruleAdd(ctx, action, syscall, conditions) {
      const array = conditions.map((cond) => ({ arg: cond.arg, op: cond.op, datum_a: cond.datumA, datum_b: cond.datumB }));
      return c.ruleAddArray(ctx, action >>> 0, syscall, array.length, array.length > 0 ? array : null);
    },
    exportBpf(ctx) {
      const fd = memfdCreate('tsrunc-seccomp-bpf', 'exporting the seccomp filter');
      try {
        const rc = c.exportBpf(ctx, fd);
        if (rc < 0) throw new TsruncError(`seccomp_export_bpf: ${errnoName(-rc)}`);
        const size = fs.fstatSync(fd).size;
        // Buffer.alloc, not a pooled Buffer: its address goes to the kernel as the program.
        const program = Buffer.alloc(size);
        let offset = 0;
        while (offset < size) {
          const count = fs.readSync(fd, program, offset, size - offset, offset);
          if (count === 0) throw new TsruncError('seccomp_export_bpf: the exported program is shorter than its file');
          offset += count;
        }
        return program;
      } finally {
        fs.closeSync(fd);
      }
    },
  };

  const syscalls: SeccompSyscalls = {
    flagsSupported(flags) {
      const rc = rawSyscall(arch().syscalls.seccomp, 'int', SECCOMP_SET_MODE_FILTER, 'unsigned int', flags, 'void *', null);
      return rc < 0 && ffi().errno() === EFAULT;
    },
  };

  const loaded = { lib, syscalls };
  if (file === LIBSECCOMP) cached = loaded;
  return loaded;
}
