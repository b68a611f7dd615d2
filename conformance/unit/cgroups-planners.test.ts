/**
 * The pure cgroup planners: linux.resources → the file writes for v1 and v2, with runc's value
 * rules and v1 → v2 conversions. No cgroup is touched.
 */
import t from 'tap';
import { TsruncError } from '../../runtime/errors.js';
import type { OciResources } from '../../runtime/spec/config.js';
import type { CgroupWrite } from '../../runtime/linux/cgroups/files.js';
import { planResourcesV1 } from '../../runtime/linux/cgroups/resources-v1.js';
import {
  blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2, planResourcesV2,
} from '../../runtime/linux/cgroups/resources-v2.js';

/** "controller/file=value" per write, the easiest form to compare. */
function lines(writes: CgroupWrite[]): string[] {
  return writes.map((w) => `${w.controller === '' ? '' : `${w.controller}/`}${w.file}=${w.value}`);
}

const v1 = (resources: OciResources, options = {}) => lines(planResourcesV1(resources, options).writes);
const v2 = (resources: OciResources, options = {}) => lines(planResourcesV2(resources, options).writes);

t.test('v1: nothing asked, nothing written', async (t) => {
  t.same(v1({}), []);
  t.same(v2({}), []);
});

t.test('v1 memory: limit, swap order, reservation, swappiness, OOM killer', async (t) => {
  t.same(v1({ memory: { limit: 50593792 } }), ['memory/memory.limit_in_bytes=50593792']);
  t.same(
    v1({ memory: { limit: 100, swap: 200 } }, { currentMemoryLimit: 9223372036854771712 }),
    ['memory/memory.limit_in_bytes=100', 'memory/memory.memsw.limit_in_bytes=200'],
    'lowering: memory first, then memory+swap (limit <= memsw at every step)',
  );
  t.same(
    v1({ memory: { limit: 300, swap: 400 } }, { currentMemoryLimit: 100 }),
    ['memory/memory.memsw.limit_in_bytes=400', 'memory/memory.limit_in_bytes=300'],
    'raising above the current limit: memory+swap first',
  );
  t.same(
    v1({ memory: { limit: -1 } }, { swapAccounting: true }),
    ['memory/memory.memsw.limit_in_bytes=-1', 'memory/memory.limit_in_bytes=-1'],
    'unlimited memory with swap unset makes swap unlimited too (runc)',
  );
  t.same(v1({ memory: { limit: -1 } }, { swapAccounting: false }), ['memory/memory.limit_in_bytes=-1'], 'not without swap accounting');
  t.same(v1({ memory: { limit: 0, swap: 0, reservation: 0 } }), [], '0 leaves a setting alone');
  t.same(
    v1({ memory: { reservation: 1024, swappiness: 50, disableOOMKiller: true, kernelTCP: 4096 } }),
    [
      'memory/memory.soft_limit_in_bytes=1024',
      'memory/memory.kmem.tcp.limit_in_bytes=4096',
      'memory/memory.swappiness=50',
      'memory/memory.oom_control=1',
    ],
  );
  t.same(v1({ memory: { disableOOMKiller: false } }), ['memory/memory.oom_control=0']);
  t.throws(() => v1({ memory: { swappiness: 101 } }), /swappiness: 101 is out of range 0-100/);
  const kernel = planResourcesV1({ memory: { kernel: 1 << 20 } });
  t.same(kernel.writes, [], 'kernel memory is ignored (deprecated; runc ignores it too)');
  t.match(kernel.warnings.join(), /memory.kernel is deprecated and ignored/);
  t.same(v1({ memory: { limit: 2 ** 62 } }), ['memory/memory.limit_in_bytes=4611686018427387904'], 'big values without exponent');
});

t.test('v1 cpu: shares (verified), period around quota, burst, idle, realtime, cpuset', async (t) => {
  const plan = planResourcesV1({ cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' } });
  t.same(lines(plan.writes), [
    'cpuset/cpuset.cpus=0-1',
    'cpuset/cpuset.mems=0',
    'cpu/cpu.shares=1024',
    'cpu/cpu.cfs_period_us=100000',
    'cpu/cpu.cfs_quota_us=50000',
    'cpu/cpu.cfs_period_us=100000',
  ]);
  t.equal(plan.writes[2]!.verify, true, 'cpu.shares is read back: the kernel clamps it');
  t.equal(plan.writes[3]!.tolerate, 'EINVAL', 'the first period write may be refused until the quota is in');
  t.equal(plan.writes[5]!.tolerate, undefined, 'the second may not');
  t.same(v1({ cpu: { period: 100000 } }), ['cpu/cpu.cfs_period_us=100000']);
  t.equal(planResourcesV1({ cpu: { period: 100000 } }).writes[0]!.tolerate, undefined, 'a period alone must succeed');
  t.same(v1({ cpu: { quota: -1 } }), ['cpu/cpu.cfs_quota_us=-1']);
  t.same(
    v1({ cpu: { quota: 20000, burst: 5000 } }),
    ['cpu/cpu.cfs_burst_us=5000', 'cpu/cpu.cfs_quota_us=20000', 'cpu/cpu.cfs_burst_us=5000'],
  );
  t.same(v1({ cpu: { idle: 1 } }), ['cpu/cpu.idle=1']);
  t.same(
    v1({ cpu: { realtimePeriod: 1000000, realtimeRuntime: 950000 } }),
    ['cpu/cpu.rt_period_us=1000000', 'cpu/cpu.rt_runtime_us=950000', 'cpu/cpu.rt_period_us=1000000'],
  );
  t.same(v1({ cpu: { shares: 0, quota: 0, period: 0, cpus: '', mems: '' } }), [], 'zeros and empty strings leave things alone');
});

t.test('v1 pids, blkio, hugetlb, network, rdma', async (t) => {
  t.same(v1({ pids: { limit: 1000 } }), ['pids/pids.max=1000']);
  t.same(v1({ pids: { limit: -1 } }), ['pids/pids.max=max']);
  t.same(v1({ pids: { limit: 0 } }), ['pids/pids.max=max'], '0 is "no limit"');
  const blockIO = {
    weight: 500,
    leafWeight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 100, leafWeight: 50 }, { major: 8, minor: 16, weight: 200 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 200 }],
  };
  t.same(v1({ blockIO }), [
    'blkio/blkio.weight=500',
    'blkio/blkio.leaf_weight=300',
    'blkio/blkio.weight_device=8:0 100',
    'blkio/blkio.leaf_weight_device=8:0 50',
    'blkio/blkio.weight_device=8:16 200',
    'blkio/blkio.throttle.read_bps_device=8:0 1048576',
    'blkio/blkio.throttle.write_bps_device=8:0 2097152',
    'blkio/blkio.throttle.read_iops_device=8:0 100',
    'blkio/blkio.throttle.write_iops_device=8:0 200',
  ]);
  t.same(v1({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 10 }] } }, { bfqWeight: true }), [
    'blkio/blkio.bfq.weight=500',
    'blkio/blkio.bfq.weight_device=8:0 10',
  ], 'BFQ: the bfq files, as runc');
  const huge = planResourcesV1({ hugepageLimits: [{ pageSize: '2MB', limit: 2147483648 }] });
  t.same(lines(huge.writes), ['hugetlb/hugetlb.2MB.limit_in_bytes=2147483648', 'hugetlb/hugetlb.2MB.rsvd.limit_in_bytes=2147483648']);
  t.equal(huge.writes[1]!.optional, true, 'the rsvd file is optional');
  t.same(
    v1({ hugepageLimits: [{ pageSize: '1GB', limit: 0 }] }, { hugetlbOnUnified: true }),
    ['hugetlb.1GB.max=0', 'hugetlb.1GB.rsvd.max=0'],
    'hybrid host with hugetlb on its cgroup2 mount: v2 files there',
  );
  t.throws(() => v1({ hugepageLimits: [{ pageSize: '2mb', limit: 1 }] }), /pageSize "2mb"/);
  t.same(v1({ network: { classID: 1048577, priorities: [{ name: 'lo', priority: 10 }, { name: 'eth0', priority: 30 }] } }), [
    'net_cls/net_cls.classid=1048577',
    'net_prio/net_prio.ifpriomap=lo 10',
    'net_prio/net_prio.ifpriomap=eth0 30',
  ]);
  t.same(v1({ rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 5 } } }), [
    'rdma/rdma.max=mlx5_1 hca_handle=3 hca_object=10000',
    'rdma/rdma.max=mlx4_0 hca_object=5',
  ]);
});

t.test('v1: unified keys are an error', async (t) => {
  try {
    v1({ unified: { 'memory.high': '1G' } });
    t.fail('no error');
  } catch (error) {
    t.ok(error instanceof TsruncError, 'a TsruncError');
    t.match((error as Error).message, /unified: invalid configuration: needs cgroup v2/);
  }
  t.same(v1({ unified: {} }), [], 'an empty map is fine');
});

t.test('v2 conversions (runc formulas)', async (t) => {
  t.equal(cpuSharesToWeight(0), 0, 'unset stays unset');
  t.equal(cpuSharesToWeight(2), 1);
  t.equal(cpuSharesToWeight(1024), 39, '1 + ((1024 - 2) * 9999) / 262142');
  t.equal(cpuSharesToWeight(512), 20);
  t.equal(cpuSharesToWeight(262144), 10000);
  t.equal(blkioWeightToIoWeight(0), 0);
  t.equal(blkioWeightToIoWeight(10), 1);
  t.equal(blkioWeightToIoWeight(500), 4950, '1 + ((500 - 10) * 9999) / 990');
  t.equal(blkioWeightToIoWeight(1000), 10000);
  t.equal(memorySwapToV2(0, 100), 0, 'swap unset');
  t.equal(memorySwapToV2(-1, 100), -1, 'swap unlimited');
  t.equal(memorySwapToV2(0, -1), -1, 'unlimited memory, swap unset: swap unlimited too');
  t.equal(memorySwapToV2(300, 100), 200, 'memory+swap minus memory');
  t.equal(memorySwapToV2(100, 100), 0, 'equal: no swap');
  t.throws(() => memorySwapToV2(300, 0), /a swap limit needs a memory limit/);
  t.throws(() => memorySwapToV2(50, 100), /must be at least the memory limit/);
});

t.test('v2 memory', async (t) => {
  t.same(v2({ memory: { limit: 100, swap: 300, reservation: 50 } }), ['memory.swap.max=200', 'memory.max=100', 'memory.low=50']);
  t.same(v2({ memory: { limit: -1 } }), ['memory.swap.max=max', 'memory.max=max']);
  t.same(v2({ memory: { limit: 100, swap: 100 } }), ['memory.swap.max=0', 'memory.max=100'], 'memory = memory+swap disables swap');
  const noSwap = planResourcesV2({ memory: { limit: 100, swap: 100 } });
  t.equal(noSwap.writes[0]!.optional, true, 'without swap accounting, "no swap" is moot: optional');
  t.equal(planResourcesV2({ memory: { limit: 100, swap: 300 } }).writes[0]!.optional, undefined, 'a real swap limit is not');
  const ignored = planResourcesV2({ memory: { kernel: 1, kernelTCP: 1, swappiness: 10, disableOOMKiller: true } });
  t.same(ignored.writes, []);
  t.equal(ignored.warnings.length, 4, 'kernel, kernelTCP, swappiness and disableOOMKiller are warned about');
  t.throws(
    () => planResourcesV2({ memory: { limit: 100, checkBeforeUpdate: true } }, { currentMemoryUsage: 200 }),
    /rejecting memory limit 100 <= usage 200/,
  );
  t.same(v2({ memory: { limit: 300, checkBeforeUpdate: true } }, { currentMemoryUsage: 200 }), ['memory.max=300']);
});

t.test('v2 cpu, cpuset, pids', async (t) => {
  t.same(v2({ cpu: { shares: 1024, quota: 50000, period: 100000 } }), ['cpu.weight=39', 'cpu.max=50000 100000']);
  t.same(v2({ cpu: { quota: 50000 } }), ['cpu.max=50000 100000'], 'period defaults to 100000');
  t.same(v2({ cpu: { period: 50000 } }), ['cpu.max=max 50000'], 'period alone: no quota');
  t.same(v2({ cpu: { quota: -1, period: 100000 } }), ['cpu.max=max 100000']);
  t.same(v2({ cpu: { quota: 20000, burst: 1000 } }), ['cpu.max.burst=1000', 'cpu.max=20000 100000', 'cpu.max.burst=1000']);
  t.same(v2({ cpu: { idle: 1 } }), ['cpu.idle=1']);
  t.same(v2({ cpu: { cpus: '0-1', mems: '0' } }), ['cpuset.cpus=0-1', 'cpuset.mems=0']);
  const rt = planResourcesV2({ cpu: { realtimeRuntime: 1000, realtimePeriod: 10000 } });
  t.same(rt.writes, []);
  t.match(rt.warnings.join(), /real-time/);
  t.same(v2({ pids: { limit: 32 } }), ['pids.max=32']);
  t.same(v2({ pids: { limit: -1 } }), ['pids.max=max']);
});

t.test('v2 io', async (t) => {
  const blockIO = {
    weight: 500,
    weightDevice: [{ major: 8, minor: 0, weight: 100 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
    throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 200 }],
  };
  const plain = planResourcesV2({ blockIO });
  t.same(lines(plain.writes), [
    'io.weight=4950',
    'io.max=8:0 rbps=1048576',
    'io.max=8:0 wbps=2097152',
    'io.max=8:0 riops=100',
    'io.max=8:0 wiops=200',
  ], 'no BFQ: converted io.weight; device weights warned about');
  t.match(plain.warnings.join(), /weightDevice 8:0 is ignored/);
  t.same(v2({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }] } }, { bfqWeight: true, bfqDeviceWeight: true }), [
    'io.bfq.weight=500',
    'io.bfq.weight=8:0 100',
  ], 'BFQ: the weight as is, and per device');
});

t.test('v2 hugetlb, rdma, network, unified', async (t) => {
  t.same(v2({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] }), ['hugetlb.2MB.max=4194304', 'hugetlb.2MB.rsvd.max=4194304']);
  t.same(v2({ rdma: { mlx5_1: { hcaHandles: 3 } } }), ['rdma.max=mlx5_1 hca_handle=3']);
  t.throws(() => v2({ network: { classID: 1 } }), /no net_cls or net_prio/);
  t.same(v2({ network: {} }), [], 'an empty network section is fine');
  t.same(
    v2({ pids: { limit: 10 }, unified: { 'memory.high': '1073741824', 'io.weight': 'default 100' } }),
    ['pids.max=10', 'memory.high=1073741824', 'io.weight=default 100'],
    'unified keys as they are, after everything else',
  );
  t.throws(() => v2({ unified: { '../memory.max': '1' } }), /must be a file name/);
  t.throws(() => v2({ unified: { memory: '1' } }), /must be a file name/);
  t.throws(() => v2({ unified: { 'cgroup.procs': '1' } }), /managed by the runtime/);
});
