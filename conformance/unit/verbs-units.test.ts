/** Pure pieces of the cgroup verbs: runc's size and duration formats, update's flag mapping. */
import t from 'tap';
import { parseBytes, parseDuration } from '../../runtime/container/units.js';
import { resourcesFromFlags } from '../../runtime/container/update.js';

t.test('sizes use binary units as runc does', async (t) => {
  t.equal(parseBytes('1048576', '--memory'), 1048576);
  t.equal(parseBytes('512k', '--memory'), 512 * 1024);
  t.equal(parseBytes('100m', '--memory'), 100 * 1024 * 1024);
  t.equal(parseBytes('1G', '--memory'), 1024 ** 3);
  t.equal(parseBytes('2gb', '--memory'), 2 * 1024 ** 3);
  t.equal(parseBytes('-1', '--memory-swap'), -1);
  t.throws(() => parseBytes('lots', '--memory'), /--memory: invalid size "lots"/);
});

t.test('durations follow Go', async (t) => {
  t.equal(parseDuration('5s', '--interval'), 5000);
  t.equal(parseDuration('100ms', '--interval'), 100);
  t.equal(parseDuration('1m30s', '--interval'), 90_000);
  t.throws(() => parseDuration('5', '--interval'), /--interval: invalid duration "5"/);
  t.throws(() => parseDuration('', '--interval'), /invalid duration/);
});

t.test('update flags become a linux.resources fragment with only what was given', async (t) => {
  t.same(resourcesFromFlags({}), {});
  t.same(resourcesFromFlags({ memory: '64m', pidsLimit: 10, cpuQuota: 50000, cpuPeriod: 100000, cpusetCpus: '0' }), {
    cpu: { quota: 50000, period: 100000, cpus: '0' },
    memory: { limit: 64 * 1024 * 1024 },
    pids: { limit: 10 },
  });
  t.same(resourcesFromFlags({ blkioWeight: 500, memorySwap: '-1' }), { memory: { swap: -1 }, blockIO: { weight: 500 } });
});
