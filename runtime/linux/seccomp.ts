/**
 * linux.seccomp (runtime-spec config-linux.md, "Seccomp"), through libseccomp as runc and crun.
 *
 * Three stages:
 * - planSeccomp, pure, in `create` before anything exists: every config error, with its JSON
 *   path; the result is plain data (plan/types.ts).
 * - buildSeccomp, still in `create` (or `exec`), before anything runs in the container:
 *   libseccomp builds the filter and exports its BPF program. Any failure here is a `create`
 *   error and leaves nothing behind. tsrunc connects to a NOTIFY listener's socket too, and
 *   hands it to the stage.
 * - seccompOps, the last operations of the native stage before execve: one seccomp(2) syscall,
 *   then (NOTIFY) one sendmsg + close, then (see below) one capset.
 *
 * Ordering against capabilities and noNewPrivileges. Loading a filter needs no_new_privs or
 * CAP_SYS_ADMIN in the effective set. runc loads the filter before dropping capabilities when
 * noNewPrivileges is false, so its profile must then allow everything its init still does
 * (setgroups, setresuid, capset, prctl, the exec.fifo handshake, ...). Here the filter is always
 * loaded right before execve, and when noNewPrivileges is false and the process's final
 * effective set lacks CAP_SYS_ADMIN (the usual Docker case), the stage keeps CAP_SYS_ADMIN in
 * its effective and permitted sets through the capability step (capabilitiesForSeccomp), loads
 * the filter, and drops it with a single capset right after. No exec of anything happens in
 * between, so the container process never holds it: execve computes its capabilities from the
 * sets after that capset.
 *
 * Syscalls after the filter is loaded, until execve (strace -f, see
 * conformance/security/seccomp-notify.test.ts "post-load"): seccomp(2) returns; [sendmsg, close]
 * when a listener gets the notify fd; [capset] as above; execve. The stage allocates nothing in
 * between: the program, the message and the capset data were decoded before.
 * planSeccomp and buildSeccomp refuse, at create, a profile that certainly stops one of them
 * (ERRNO, KILL, KILL_PROCESS or TRAP on execve, capset or sendmsg; NOTIFY on sendmsg; a kill or
 * TRAP on close): such a container could never start, and after the filter is loaded the stage
 * might not even be able to write its error. A rule with argument conditions is not judged (its
 * outcome depends on the arguments); if it denies, `start` fails with the errno (or the process
 * dies of SIGSYS).
 *
 * Flags: SECCOMP_FILTER_FLAG_LOG sets SCMP_FLTATR_CTL_LOG (which checks the kernel) and loads
 * with SECCOMP_FILTER_FLAG_LOG; SECCOMP_FILTER_FLAG_SPEC_ALLOW likewise with SCMP_FLTATR_CTL_SSB.
 * Without a flags field, SPEC_ALLOW is set when supported, as runc (>= 1.2) and crun do; an
 * empty list sets nothing. SECCOMP_FILTER_FLAG_TSYNC is accepted and not applied, as runc does:
 * the stage has one thread. SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV has no libseccomp 2.5
 * attribute; as the stage loads the program itself, it passes the kernel flag when the filter
 * has a NOTIFY rule (the flag means nothing without one) after checking that the kernel knows it.
 *
 * The exported program gets runc's -ENOSYS stub in front (seccomp-enosys.ts): a syscall newer
 * than the profile fails with ENOSYS rather than the default action.
 *
 * Syscall names libseccomp does not know on this architecture are skipped, as runc does (it
 * logs them at debug level); buildSeccomp returns them.
 * Rules whose action is the default action are dropped (libseccomp refuses them, runc skips
 * them). Several conditions on one argument index become one rule each, as runc does.
 */
import type { OciSeccomp } from '../spec/config.js';
import { TsruncError } from '../errors.js';
import { SPEC_VERSION } from '../version.js';
import type { CapabilityPlan, SeccompArgPlan, SeccompContainerInfo, SeccompPlan, SeccompRulePlan } from '../plan/types.js';
import type { Slot, SlotAllocator, StageOp } from '../plan/ops.js';
import { errnoName } from './libc.js';
import { BPF_MAXINSNS, SOCK_FILTER_SIZE, enosysArches, enosysStubApplies, patchEnosys, type ProfileArch } from './seccomp-enosys.js';
import {
  NR_SCMP_ERROR, SCMP_FLTATR_CTL_LOG, SCMP_FLTATR_CTL_OPTIMIZE, SCMP_FLTATR_CTL_SSB, loadLibseccomp,
} from './libseccomp.js';

// ---------------------------------------------------------------------------------------------
// Names → values (seccomp.h)

/** SCMP_ACT_* values; ERRNO and TRACE carry 16 bits of data (errno / ptrace message). */
const ACTIONS = {
  SCMP_ACT_KILL: 0x00000000, // = SCMP_ACT_KILL_THREAD
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_ALLOW: 0x7fff0000,
  SCMP_ACT_NOTIFY: 0x7fc00000,
} as const;
type ActionName = keyof typeof ACTIONS;

const OPERATORS = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
} as const;

/** SCMP_ARCH_* → the name libseccomp resolves to its arch token (seccomp_arch_resolve_name). */
const ARCHITECTURES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
  SCMP_ARCH_LOONGARCH64: 'loongarch64', // libseccomp >= 2.6
  SCMP_ARCH_M68K: 'm68k', // libseccomp >= 2.6
  SCMP_ARCH_SH: 'sh', // libseccomp >= 2.6
  SCMP_ARCH_SHEB: 'sheb', // libseccomp >= 2.6
};

const FLAG_NAMES = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;

/** SECCOMP_FILTER_FLAG_* (linux/seccomp.h). */
const SECCOMP_FILTER_FLAG_LOG = 1 << 1;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;

const EPERM = 1;
const EEXIST = 17;
const CAP_SYS_ADMIN = 21;
const MAX_ARGUMENTS = 6;
const UINT64_MAX = (1n << 64n) - 1n;

const ACTION_MASK = 0xffff0000;
const DATA_MASK = 0x0000ffff;

/** The SCMP_ACT_* name of an action value, with its data: "SCMP_ACT_ERRNO(13)". */
export function actionName(action: number): string {
  const base = (action & ACTION_MASK) >>> 0;
  if (base === ACTIONS.SCMP_ACT_ERRNO) return `SCMP_ACT_ERRNO(${action & DATA_MASK})`;
  if (base === ACTIONS.SCMP_ACT_TRACE) return `SCMP_ACT_TRACE(${action & DATA_MASK})`;
  const found = (Object.keys(ACTIONS) as ActionName[]).find((name) => ACTIONS[name] === base && name !== 'SCMP_ACT_KILL');
  return found ?? `0x${base.toString(16)}`;
}

// ---------------------------------------------------------------------------------------------
// The plan (plain JSON: it travels to the init over a socket)

export type { SeccompArgPlan, SeccompContainerInfo, SeccompPlan, SeccompRulePlan };

function fail(path: string, message: string): never {
  throw new TsruncError(`config.json: ${path}: ${message}`);
}

function actionValue(name: unknown, errnoRet: unknown, path: string, errnoPath: string, defaultErrno: number): number {
  if (typeof name !== 'string' || !Object.hasOwn(ACTIONS, name)) fail(path, `unknown action ${JSON.stringify(name)}`);
  const base = ACTIONS[name as ActionName];
  const takesData = name === 'SCMP_ACT_ERRNO' || name === 'SCMP_ACT_TRACE';
  if (errnoRet === undefined) return takesData ? (base | defaultErrno) >>> 0 : base;
  if (!takesData) fail(errnoPath, `${name} takes no errno: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do`);
  if (typeof errnoRet !== 'number' || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > DATA_MASK) {
    fail(errnoPath, `${JSON.stringify(errnoRet)} is not an errno seccomp can return (0 to 65535)`);
  }
  return (base | errnoRet) >>> 0;
}

/**
 * A uint64 from a JSON number. JSON.parse has already rounded numbers above 2^53 to the
 * nearest double: those that are exact doubles (masks such as 0xFFFFFFFF00000000) are taken as
 * they are; 18446744073709551615 (all ones, the usual "any value" mask) comes back as 2^64,
 * which is read as all ones again.
 */
function uint64(value: unknown, path: string): bigint {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(path, `${JSON.stringify(value)} is not a uint64`);
  const exact = BigInt(value);
  if (exact === UINT64_MAX + 1n) return UINT64_MAX;
  if (exact > UINT64_MAX) fail(path, `${value} is above the largest uint64`);
  return exact;
}

function planArgs(args: readonly unknown[], path: string): SeccompArgPlan[][] {
  if (args.length === 0) return [];
  const conditions = args.map((arg, k): SeccompArgPlan => {
    const argPath = `${path}/args/${k}`;
    if (typeof arg !== 'object' || arg === null) fail(argPath, 'must be an object');
    const { index, value, valueTwo, op } = arg as Record<string, unknown>;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_ARGUMENTS) {
      fail(`${argPath}/index`, `${JSON.stringify(index)} is not a syscall argument index (0 to ${MAX_ARGUMENTS - 1})`);
    }
    if (typeof op !== 'string' || !Object.hasOwn(OPERATORS, op)) fail(`${argPath}/op`, `unknown operator ${JSON.stringify(op)}`);
    return {
      index,
      op: OPERATORS[op as keyof typeof OPERATORS],
      value: uint64(value, `${argPath}/value`).toString(),
      valueTwo: valueTwo === undefined ? '0' : uint64(valueTwo, `${argPath}/valueTwo`).toString(),
    };
  });
  const indexes = conditions.map((c) => c.index);
  const repeated = new Set(indexes).size !== indexes.length;
  // libseccomp wants each argument at most once per rule; runc then makes one rule per condition.
  return repeated ? conditions.map((c) => [c]) : [conditions];
}

/** Actions that make a syscall fail or end the caller. */
function denies(action: number): boolean {
  const base = (action & ACTION_MASK) >>> 0;
  return base === ACTIONS.SCMP_ACT_ERRNO || base === ACTIONS.SCMP_ACT_TRAP || base === ACTIONS.SCMP_ACT_KILL_THREAD ||
    base === ACTIONS.SCMP_ACT_KILL_PROCESS;
}

function kills(action: number): boolean {
  const base = (action & ACTION_MASK) >>> 0;
  return base === ACTIONS.SCMP_ACT_TRAP || base === ACTIONS.SCMP_ACT_KILL_THREAD || base === ACTIONS.SCMP_ACT_KILL_PROCESS;
}

function isNotify(action: number): boolean {
  return ((action & ACTION_MASK) >>> 0) === ACTIONS.SCMP_ACT_NOTIFY;
}

/**
 * What the filter certainly does with `syscall` (on the native architecture), and the JSON
 * path that decides it; undefined when that depends on the arguments or on which of several
 * disagreeing rules libseccomp keeps.
 */
export function certainAction(plan: SeccompPlan, syscall: string): { action: number; path: string } | undefined {
  const rules = plan.rules.filter((rule) => rule.names.includes(syscall));
  if (rules.length === 0) return { action: plan.defaultAction, path: '/linux/seccomp/defaultAction' };
  if (rules.some((rule) => rule.conditionSets.length > 0)) return undefined;
  if (rules.some((rule) => rule.action !== rules[0]!.action)) return undefined;
  return { action: rules[0]!.action, path: rules[0]!.path };
}

/** Refuses a plan that certainly stops one of the init's own syscalls after the filter is loaded. */
function checkPostLoad(plan: SeccompPlan, syscall: string, refused: (action: number) => boolean, why: string): void {
  const decided = certainAction(plan, syscall);
  if (decided && refused(decided.action)) {
    fail(decided.path, `the profile makes ${syscall} ${actionName(decided.action)}, but ${why}`);
  }
}

/**
 * Pure: config.json's linux.seccomp → the plan, or an error naming the JSON path. `container`
 * fills the container state a NOTIFY listener receives.
 */
export function planSeccomp(seccomp: OciSeccomp | undefined, container?: SeccompContainerInfo): SeccompPlan | undefined {
  if (seccomp === undefined) return undefined;
  const config = seccomp as Record<string, unknown>;
  const root = '/linux/seccomp';

  const defaultErrno = config['defaultErrnoRet'];
  const defaultAction = actionValue(config['defaultAction'], defaultErrno, `${root}/defaultAction`, `${root}/defaultErrnoRet`, EPERM);
  if (isNotify(defaultAction)) {
    fail(`${root}/defaultAction`, "SCMP_ACT_NOTIFY cannot be the default action: the runtime's own syscalls after loading the filter would wait for a listener that does not have the fd yet");
  }

  const architectures = ((config['architectures'] ?? []) as unknown[]).map((name, i) => {
    const path = `${root}/architectures/${i}`;
    if (typeof name !== 'string' || !Object.hasOwn(ARCHITECTURES, name)) fail(path, `unknown architecture ${JSON.stringify(name)}`);
    return { name, libseccomp: ARCHITECTURES[name]!, path };
  });

  const flagList = config['flags'] as unknown[] | undefined;
  (flagList ?? []).forEach((flag, i) => {
    if (!(FLAG_NAMES as readonly unknown[]).includes(flag)) fail(`${root}/flags/${i}`, `unknown flag ${JSON.stringify(flag)}`);
  });
  const has = (flag: (typeof FLAG_NAMES)[number]) => flagList?.includes(flag) === true;
  const flags: SeccompPlan['flags'] = {
    log: has('SECCOMP_FILTER_FLAG_LOG'),
    specAllow: flagList === undefined ? 'default' : has('SECCOMP_FILTER_FLAG_SPEC_ALLOW') ? 'yes' : 'no',
    waitKillableRecv: has('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'),
    tsync: has('SECCOMP_FILTER_FLAG_TSYNC'),
  };

  const rules: SeccompRulePlan[] = [];
  const defaultActionNames: string[] = [];
  let notifyPath: string | undefined;
  ((config['syscalls'] ?? []) as unknown[]).forEach((entry, i) => {
    const path = `${root}/syscalls/${i}`;
    if (typeof entry !== 'object' || entry === null) fail(path, 'must be an object');
    const { names, action, errnoRet, args } = entry as Record<string, unknown>;
    if (!Array.isArray(names) || names.length === 0) fail(`${path}/names`, 'must name at least one syscall');
    (names as unknown[]).forEach((name, j) => {
      if (typeof name !== 'string' || name === '') fail(`${path}/names/${j}`, `${JSON.stringify(name)} is not a syscall name`);
    });
    const value = actionValue(action, errnoRet, `${path}/action`, `${path}/errnoRet`, EPERM);
    const conditionSets = planArgs((args ?? []) as unknown[], path);
    if (isNotify(value)) notifyPath ??= `${path}/action`;
    // libseccomp refuses a rule that repeats the default action; runc skips it, and so do we.
    if (value === defaultAction) {
      defaultActionNames.push(...(names as string[]));
      return;
    }
    rules.push({ path, names: [...(names as string[])], action: value, conditionSets });
  });

  const plan: SeccompPlan = { defaultAction, architectures, flags, rules, defaultActionNames, notify: notifyPath !== undefined };
  const listenerPath = config['listenerPath'];
  const metadata = config['listenerMetadata'];
  if (metadata !== undefined && (listenerPath === undefined || listenerPath === '')) {
    fail(`${root}/listenerMetadata`, 'is set without /linux/seccomp/listenerPath');
  }
  if (notifyPath !== undefined) {
    if (typeof listenerPath !== 'string' || listenerPath === '') {
      fail(notifyPath, 'SCMP_ACT_NOTIFY needs /linux/seccomp/listenerPath, the socket the notify fd is sent to');
    }
    plan.listener = {
      path: listenerPath,
      ...(typeof metadata === 'string' ? { metadata } : {}),
      container: container ?? { ociVersion: SPEC_VERSION, id: '', bundle: '', annotations: {} },
    };
    // Syscalls the init itself makes after loading the filter, which a NOTIFY would make wait on
    // the listener: sendmsg hands it the fd; write gives each startContainer hook the state
    // (runc refuses NOTIFY on write in the same words).
    const ownSyscalls: [string, string, string][] = [
      ['sendmsg', 'sendmsg', "tsrunc's init sends the notify fd to the listener with it"],
      ['write', 'the write syscall', "tsrunc's init writes the state to each startContainer hook after loading the filter"],
    ];
    for (const [syscall, named, why] of ownSyscalls) {
      const notified = rules.find((rule) => rule.names.includes(syscall) && isNotify(rule.action));
      if (notified) fail(`${notified.path}/action`, `SCMP_ACT_NOTIFY cannot be used for ${named}: ${why}`);
    }
    checkPostLoad(plan, 'sendmsg', denies,
      "tsrunc's init sends the notify fd to /linux/seccomp/listenerPath with sendmsg after loading the filter");
    checkPostLoad(plan, 'close', kills, "tsrunc's init closes the listener connection after loading the filter");
  }
  checkPostLoad(plan, 'execve', denies, "tsrunc's init starts the container process with execve after loading the filter, so it could never start");
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Capabilities around the load

export interface SeccompProcess {
  seccomp: SeccompPlan | undefined;
  noNewPrivileges: boolean;
  capabilities: CapabilityPlan | undefined;
  uid: number;
}

function union(numbers: readonly number[], extra: number): number[] {
  return numbers.includes(extra) ? [...numbers] : [...numbers, extra];
}

function capabilityWords(numbers: readonly number[], lastCap: number): [number, number] {
  const words: [number, number] = [0, 0];
  for (const n of numbers) if (n <= lastCap) words[n >> 5] = (words[n >> 5]! | (1 << (n & 31))) >>> 0;
  return words;
}

/**
 * The capability sets the init applies (in place of the config's), and the ones it sets with
 * capset right after loading the filter; see the file comment. Without noNewPrivileges and
 * without CAP_SYS_ADMIN in the final effective set, CAP_SYS_ADMIN is kept in effective and
 * permitted until the filter is loaded. A non-root user without a capabilities field ends with
 * no capabilities at all, so that case is written as an empty plan that keeps the bounding set.
 */
export function capabilitiesForSeccomp(proc: SeccompProcess, lastCap: number): {
  apply: CapabilityPlan | undefined;
  afterLoad: BuiltSeccomp['capabilitiesAfterLoad'];
} {
  const keep = { apply: proc.capabilities, afterLoad: undefined };
  if (proc.seccomp === undefined || proc.noNewPrivileges) return keep;
  let base = proc.capabilities;
  if (base === undefined) {
    if (proc.uid === 0) return keep; // root keeps every capability
    const all = Array.from({ length: lastCap + 1 }, (_, n) => n);
    base = { bounding: all, effective: [], permitted: [], inheritable: [], ambient: [] };
  }
  if (base.effective.includes(CAP_SYS_ADMIN)) return keep;
  return {
    apply: { ...base, effective: union(base.effective, CAP_SYS_ADMIN), permitted: union(base.permitted, CAP_SYS_ADMIN) },
    afterLoad: {
      effective: capabilityWords(base.effective, lastCap),
      permitted: capabilityWords(base.permitted, lastCap),
      inheritable: capabilityWords(base.inheritable, lastCap),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Built by tsrunc, loaded by the stage

export interface BuiltSeccomp {
  /** struct sock_filter[], from seccomp_export_bpf. */
  program: Buffer;
  /** SECCOMP_FILTER_FLAG_* for seccomp(2). */
  flags: number;
  /** Where the notify fd goes (a NOTIFY rule), and what the listener is told of the container. */
  listener: SeccompPlan['listener'];
  /** The capability sets the stage applies instead of the config's (capabilitiesForSeccomp). */
  capabilities: CapabilityPlan | undefined;
  /** Set with capset right after loading, when `capabilities` kept CAP_SYS_ADMIN for the load. */
  capabilitiesAfterLoad: { effective: [number, number]; permitted: [number, number]; inheritable: [number, number] } | undefined;
  /** Syscall names libseccomp does not know here, skipped. */
  skipped: string[];
}

function buildProgram(plan: SeccompPlan, skipped: string[]): { program: Buffer; flags: number } {
  const { lib, syscalls } = loadLibseccomp();
  if (plan.notify && lib.apiLevel < 5) {
    throw new TsruncError(`SCMP_ACT_NOTIFY needs libseccomp >= 2.5.0 and Linux >= 5.0 (libseccomp ${lib.version}, API level ${lib.apiLevel})`);
  }
  const ctx = lib.init(plan.defaultAction);
  try {
    const profileArches: ProfileArch[] = [];
    for (const arch of plan.architectures) {
      const token = lib.archResolve(arch.libseccomp);
      if (token === 0) fail(arch.path, `${arch.name} is not supported by libseccomp ${lib.version}`);
      const rc = lib.archAdd(ctx, token);
      if (rc < 0 && rc !== -EEXIST) fail(arch.path, `libseccomp cannot add ${arch.name}: ${errnoName(-rc)}`);
      profileArches.push({ name: arch.libseccomp, token });
    }
    let flags = plan.notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    if (plan.flags.log) {
      const rc = lib.attrSet(ctx, SCMP_FLTATR_CTL_LOG, 1);
      if (rc < 0) fail('/linux/seccomp/flags', `SECCOMP_FILTER_FLAG_LOG is not supported here (libseccomp ${lib.version}): ${errnoName(-rc)}`);
      flags |= SECCOMP_FILTER_FLAG_LOG;
    }
    if (plan.flags.specAllow !== 'no') {
      const rc = lib.attrSet(ctx, SCMP_FLTATR_CTL_SSB, 1);
      if (rc === 0) flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
      else if (plan.flags.specAllow === 'yes') {
        fail('/linux/seccomp/flags', `SECCOMP_FILTER_FLAG_SPEC_ALLOW is not supported here (libseccomp ${lib.version}): ${errnoName(-rc)}`);
      }
    }
    if (plan.flags.waitKillableRecv && plan.notify) {
      const wanted = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
      if (!syscalls.flagsSupported(wanted)) {
        fail('/linux/seccomp/flags', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by this kernel (Linux >= 5.19 has it)');
      }
      flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    // runc's threshold: a binary tree pays off for long lists (and libseccomp <= 2.5.4 mishandles it with no rules).
    const ruleCount = plan.rules.reduce((n, rule) => n + rule.names.length, 0);
    if (ruleCount > 32) lib.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

    for (const rule of plan.rules) {
      for (const name of rule.names) {
        const nr = lib.resolveSyscall(name);
        if (nr === NR_SCMP_ERROR) {
          skipped.push(name);
          continue;
        }
        const sets = rule.conditionSets.length > 0 ? rule.conditionSets : [[]];
        for (const conditions of sets) {
          const rc = lib.ruleAdd(ctx, rule.action, nr, conditions.map((c) => ({
            arg: c.index, op: c.op, datumA: BigInt(c.value), datumB: BigInt(c.valueTwo),
          })));
          if (rc < 0) fail(rule.path, `libseccomp refused the rule for ${name}: ${errnoName(-rc)}`);
        }
      }
    }
    const exported = lib.exportBpf(ctx);
    let program = exported;
    if (enosysStubApplies(plan.defaultAction)) {
      const names = [...plan.rules.flatMap((rule) => rule.names), ...plan.defaultActionNames];
      const entries = enosysArches(profileArches, names, (token, name) => lib.resolveSyscallArch(token, name));
      program = patchEnosys(exported, entries, plan.defaultAction);
    }
    const instructions = program.length / SOCK_FILTER_SIZE;
    if (instructions > BPF_MAXINSNS) {
      fail('/linux/seccomp', `the filter compiles to ${instructions} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}`);
    }
    return { program, flags };
  } finally {
    lib.release(ctx);
  }
}

/**
 * In `tsrunc create` or `exec`, before anything runs in the container: libseccomp builds the
 * filter and exports its BPF program, and the capabilities around the load are worked out.
 */
export function buildSeccomp(plan: SeccompPlan, proc: Omit<SeccompProcess, 'seccomp'>, lastCap: number): BuiltSeccomp {
  const caps = capabilitiesForSeccomp({ ...proc, seccomp: plan }, lastCap);
  if (caps.afterLoad) {
    checkPostLoad(plan, 'capset', denies,
      'without noNewPrivileges loading a filter needs CAP_SYS_ADMIN, which the process does not keep: tsrunc holds it until the filter is loaded and drops it with capset right after (allow capset, or set process.noNewPrivileges)');
  }
  const skipped: string[] = [];
  const { program, flags } = buildProgram(plan, skipped);
  return { program, flags, listener: plan.listener, capabilities: caps.apply, capabilitiesAfterLoad: caps.afterLoad, skipped };
}

/** Runs `build`, its errors named as the step they belong to (one line: "preparing the seccomp filter: ..."). */
export function prepareSeccomp<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    throw new TsruncError(`preparing the seccomp filter: ${(error as Error).message}`);
  }
}

/** What the listener receives with the notify fd (runtime-spec, "Seccomp"): `pid` is the process's as the runtime sees it. */
export function listenerPayload(listener: NonNullable<SeccompPlan['listener']>, pid: number): string {
  const { metadata, container } = listener;
  const state: Record<string, unknown> = {
    ociVersion: container.ociVersion,
    id: container.id,
    // The filter is loaded after `start`, right before the container process is executed.
    status: container.status ?? 'created',
    pid,
    bundle: container.bundle,
  };
  if (Object.keys(container.annotations).length > 0) state['annotations'] = container.annotations;
  return JSON.stringify({ ociVersion: SPEC_VERSION, fds: ['seccompFd'], pid, ...(metadata === undefined ? {} : { metadata }), state });
}

/**
 * The last operations before the exec: load, send the notify fd to the listener (whose socket
 * tsrunc connected, slot `listenerSocket`), drop what the load alone needed. A notify fd that
 * cannot be sent is closed, so a notified syscall on the way out fails with ENOSYS instead of
 * waiting for a listener that has none.
 */
export function seccompOps(built: BuiltSeccomp, listenerSocket: Slot | null, pid: number, slots: SlotAllocator): StageOp[] {
  const step = 'loading the seccomp filter';
  const notify = built.listener && listenerSocket !== null ? slots.take() : null;
  const ops: StageOp[] = [{ op: 'seccomp', label: step, program: built.program, flags: built.flags, into: notify }];
  if (notify !== null && listenerSocket !== null && built.listener) {
    ops.push({
      op: 'send-fd', label: `${step}: sending the seccomp notify fd to ${built.listener.path} (/linux/seccomp/listenerPath)`,
      socket: listenerSocket, fd: notify, payload: listenerPayload(built.listener, pid), closeOnFailure: true,
    });
  }
  if (built.capabilitiesAfterLoad) {
    ops.push({ op: 'capset', label: `${step}: dropping CAP_SYS_ADMIN, held only to load the seccomp filter`, ...built.capabilitiesAfterLoad });
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// `tsrunc features`

export interface SeccompFeatureList {
  enabled: boolean;
  actions?: string[];
  operators?: string[];
  archs?: string[];
  knownFlags?: string[];
  supportedFlags?: string[];
}

/** What linux.seccomp accepts here (runtime-spec features.md); not enabled without libseccomp. */
export function seccompFeatures(): SeccompFeatureList {
  let loaded: ReturnType<typeof loadLibseccomp>;
  try {
    loaded = loadLibseccomp();
  } catch {
    return { enabled: false };
  }
  const { lib, syscalls } = loaded;
  const supported: string[] = ['SECCOMP_FILTER_FLAG_TSYNC'];
  if (syscalls.flagsSupported(SECCOMP_FILTER_FLAG_LOG)) supported.push('SECCOMP_FILTER_FLAG_LOG');
  if (syscalls.flagsSupported(SECCOMP_FILTER_FLAG_SPEC_ALLOW)) supported.push('SECCOMP_FILTER_FLAG_SPEC_ALLOW');
  if (syscalls.flagsSupported(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
    supported.push('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV');
  }
  return {
    enabled: true,
    actions: Object.keys(ACTIONS).filter((name) => name !== 'SCMP_ACT_NOTIFY' || lib.apiLevel >= 5).sort(),
    operators: Object.keys(OPERATORS).sort(),
    archs: Object.keys(ARCHITECTURES).filter((name) => lib.archResolve(ARCHITECTURES[name]!) !== 0).sort(),
    knownFlags: [...FLAG_NAMES],
    supportedFlags: supported,
  };
}
