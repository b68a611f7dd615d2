// Shared inputs for the spec-*.test.ts unit tests.
import { TsruncError } from '../../runtime/errors.js';
import type { OciConfig } from '../../runtime/spec/config.js';
import type { TsruncState } from '../../runtime/spec/state.js';

/** What `runc spec` (runc 1.1.5) writes, verbatim apart from formatting. */
export const runcSpecOutput = {
  ociVersion: '1.0.2-dev',
  process: {
    terminal: true,
    user: { uid: 0, gid: 0 },
    args: ['sh'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: '/',
    capabilities: {
      bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'runc',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: [
      '/proc/acpi',
      '/proc/asound',
      '/proc/kcore',
      '/proc/keys',
      '/proc/latency_stats',
      '/proc/timer_list',
      '/proc/timer_stats',
      '/proc/sched_debug',
      '/sys/firmware',
      '/proc/scsi',
    ],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};

const hook = (name: string) => ({ path: `/usr/libexec/hooks/${name}`, args: [name, '--flag'], env: ['A=1'], timeout: 5 });

/** A config that sets (nearly) every field the spec defines for Linux, all to valid values. */
export function fullConfig(): OciConfig {
  return {
    ociVersion: '1.2.0',
    root: { path: '/var/lib/containers/full/rootfs', readonly: false },
    hostname: 'full',
    domainname: 'example.org',
    annotations: { 'org.example/owner': 'tests', 'com.example.key': 'value' },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/data',
        type: 'bind',
        source: '/srv/data',
        options: ['rbind', 'ro', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    ],
    process: {
      terminal: false,
      consoleSize: { height: 24, width: 80 },
      user: { uid: 1000, gid: 1000, umask: 0o022, additionalGids: [5, 10], username: 'app' },
      args: ['/bin/app', '--serve'],
      env: ['PATH=/bin', 'HOME=/home/app'],
      cwd: '/home/app',
      capabilities: {
        bounding: ['CAP_NET_BIND_SERVICE'],
        effective: ['CAP_NET_BIND_SERVICE'],
        inheritable: [],
        permitted: ['CAP_NET_BIND_SERVICE'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 },
        { type: 'RLIMIT_CORE', hard: 18446744073709551615, soft: 0 },
      ],
      noNewPrivileges: true,
      apparmorProfile: 'tsrunc-default',
      oomScoreAdj: -500,
      scheduler: { policy: 'SCHED_DEADLINE', nice: -5, priority: 0, flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 10, deadline: 20, period: 30 },
      selinuxLabel: 'system_u:system_r:container_t:s0',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '0', final: '0-3,7' },
    },
    hooks: {
      prestart: [hook('prestart')],
      createRuntime: [hook('createRuntime')],
      createContainer: [hook('createContainer')],
      startContainer: [hook('startContainer')],
      poststart: [hook('poststart')],
      poststop: [{ path: '/usr/libexec/hooks/poststop' }],
    },
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'network', path: '/var/run/netns/full' },
        { type: 'mount' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'user' },
        { type: 'cgroup' },
        { type: 'time' },
      ],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { monotonic: { secs: -3600, nanosecs: 500 }, boottime: { secs: 86400 } },
      devices: [
        { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
        { type: 'b', path: '/dev/loop0', major: 7, minor: 0 },
        { type: 'p', path: '/dev/myfifo' },
      ],
      cgroupsPath: '/tsrunc/full',
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
          { allow: true, type: 'a' },
        ],
        memory: {
          limit: 536870912,
          reservation: 268435456,
          swap: -1,
          kernel: -1,
          kernelTCP: -1,
          swappiness: 0,
          disableOOMKiller: false,
          useHierarchy: true,
          checkBeforeUpdate: true,
        },
        cpu: {
          shares: 1024,
          quota: 100000,
          burst: 10000,
          period: 100000,
          realtimeRuntime: 950000,
          realtimePeriod: 1000000,
          cpus: '0-3',
          mems: '0',
          idle: 0,
        },
        blockIO: {
          weight: 500,
          leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 104857600 }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 104857600 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 1000 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 1000 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        pids: { limit: 32768 },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'memory.high': '400M', 'io.weight': 'default 100' },
      },
      intelRdt: { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0;1=1f', memBwSchema: 'MB:0=20;1=70', enableCMT: true, enableMBM: true },
      personality: { domain: 'LINUX32', flags: [] },
      sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.shm_rmid_forced': '1' },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/run/seccomp-agent.sock',
        listenerMetadata: 'profile=full',
        syscalls: [
          { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
          { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
          { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
          { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' },
        ],
      },
      rootfsPropagation: 'rslave',
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:container_file_t:s0',
    },
  };
}

/** A state.json as tsrunc writes it. */
export function sampleState(config: OciConfig): TsruncState {
  return {
    ociVersion: '1.2.0',
    id: 'web-1',
    status: 'created',
    pid: 4242,
    bundle: '/srv/bundles/web',
    annotations: { a: 'b' },
    created: '2024-05-01T12:34:56.789Z',
    initStartTime: 123456,
    rootfs: '/srv/bundles/web/rootfs',
    config,
    owner: 'root',
    cgroupPaths: { '': '/sys/fs/cgroup/tsrunc/web-1' },
  };
}

/** A deep copy that tests may break in ways the types forbid. */
export function mutable(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

/**
 * Runs `action`, which must throw a TsruncError, and returns the lines of its message.
 * Anything else (no throw, another error type) is reported as a string the test can't mistake
 * for an expected line.
 */
export function thrownLines(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof TsruncError) return error.message.split('\n');
    return [`<not a TsruncError: ${String(error)}>`];
  }
  return ['<did not throw>'];
}
