import t from 'tap';
import { allocateAddress, candidateAddresses, freeAddressCount } from '../../../reference-plugins/host-local-bridge/host-local/allocator.js';
import { formatIp, parseIp } from '../../../reference-plugins/host-local-bridge/host-local/ip-address.js';
import { parseRangeSet, type RangeSet } from '../../../reference-plugins/host-local-bridge/host-local/range-set.js';
import type { Owner } from '../../../reference-plugins/host-local-bridge/host-local/reservation.js';
import { MemoryStore } from './memory-store.js';

const ip = (text: string) => parseIp(text)!;
const set = (...ranges: object[]): RangeSet => parseRangeSet(ranges, 'ipam.ranges[0]');
const owner = (containerId: string, ifName = 'eth0'): Owner => ({ containerId, ifName });

async function allocate(store: MemoryStore, rangeSet: RangeSet, who: Owner, requested?: string): Promise<string> {
  const allocation = await allocateAddress({
    store,
    rangeSet,
    rangeSetIndex: 0,
    owner: who,
    reservations: await store.scan(),
    ...(requested === undefined ? {} : { requested: { ip: ip(requested), source: 'test' } }),
  });
  return formatIp(allocation.ip);
}

// Each row: the range set, the last reserved address, the order candidates come in.
const orders: [title: string, rangeSet: RangeSet, last: string | undefined, order: string[]][] = [
  ['fresh: from rangeStart, gateway skipped', set({ subnet: '10.1.0.0/29' }), undefined, ['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']],
  ['after the last reserved, wrapping to it', set({ subnet: '10.1.0.0/29' }), '10.1.0.4', ['10.1.0.5', '10.1.0.6', '10.1.0.2', '10.1.0.3', '10.1.0.4']],
  ['a gateway inside the range is skipped', set({ subnet: '10.1.0.0/29', gateway: '10.1.0.3' }), undefined, ['10.1.0.1', '10.1.0.2', '10.1.0.4', '10.1.0.5', '10.1.0.6']],
  [
    'across the ranges of a set',
    set({ subnet: '10.1.0.0/29', rangeStart: '10.1.0.5' }, { subnet: '10.2.0.0/29', rangeEnd: '10.2.0.3' }),
    '10.1.0.5',
    ['10.1.0.6', '10.2.0.2', '10.2.0.3', '10.1.0.5'],
  ],
  [
    'the end of a range moves to the next one',
    set({ subnet: '10.1.0.0/29', rangeStart: '10.1.0.5' }, { subnet: '10.2.0.0/29', rangeEnd: '10.2.0.3' }),
    '10.1.0.6',
    ['10.2.0.2', '10.2.0.3', '10.1.0.5', '10.1.0.6'],
  ],
  ['a last address outside the set starts over', set({ subnet: '10.1.0.0/29' }), '10.9.0.1', ['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']],
  ['IPv6 counts up in hex', set({ subnet: '2001:db8::/64', rangeStart: '2001:db8::fffe', rangeEnd: '2001:db8::1:1' }), '2001:db8::1:0', ['2001:db8::1:1', '2001:db8::fffe', '2001:db8::ffff', '2001:db8::1:0']],
];

t.test('candidates come in upstream round-robin order', async (t) => {
  for (const [title, rangeSet, last, order] of orders) {
    const candidates = [...candidateAddresses(rangeSet, last === undefined ? undefined : ip(last))].map((candidate) => formatIp(candidate.ip));
    t.same(candidates, order, title);
  }
});

t.test('successive ADDs take successive addresses and a released one is not reused at once', async (t) => {
  const store = new MemoryStore();
  const rangeSet = set({ subnet: '10.1.0.0/29' });
  t.equal(await allocate(store, rangeSet, owner('a')), '10.1.0.2');
  t.equal(await allocate(store, rangeSet, owner('b')), '10.1.0.3');
  store.reservations.delete('10.1.0.2');
  t.equal(await allocate(store, rangeSet, owner('c')), '10.1.0.4');
  t.equal(await allocate(store, rangeSet, owner('d')), '10.1.0.5');
  t.equal(await allocate(store, rangeSet, owner('e')), '10.1.0.6');
  t.equal(await allocate(store, rangeSet, owner('f')), '10.1.0.2', 'wraps around to the released address');
});

t.test('an address taken after the scan is skipped, not shared', async (t) => {
  const store = new MemoryStore();
  const rangeSet = set({ subnet: '10.1.0.0/29' });
  const reservations = await store.scan();
  store.hold(ip('10.1.0.2'), { containerId: 'racer', ifName: 'eth0' });
  const allocation = await allocateAddress({ store, rangeSet, rangeSetIndex: 0, owner: owner('a'), reservations });
  t.equal(formatIp(allocation.ip), '10.1.0.3');
  t.same(store.attempts, ['10.1.0.2', '10.1.0.3']);
});

t.test('a full range set is ADDRESSES_EXHAUSTED (100) in upstream words', async (t) => {
  const store = new MemoryStore();
  const rangeSet = set({ subnet: '10.1.0.0/30' });
  t.equal(await allocate(store, rangeSet, owner('a')), '10.1.0.2');
  await t.rejects(allocate(store, rangeSet, owner('b')), { code: 100, msg: 'failed to allocate for range 0: no IP addresses available in range set: 10.1.0.1-10.1.0.2' });
  t.same(store.attempts, ['10.1.0.2'], 'an exhausted set is known from the count, without trying every address');
});

t.test('a second ADD for the same attachment is DUPLICATE_ALLOCATION (101), as upstream refuses it', async (t) => {
  const store = new MemoryStore();
  const rangeSet = set({ subnet: '10.1.0.0/29' });
  await allocate(store, rangeSet, owner('a'));
  await t.rejects(allocate(store, rangeSet, owner('a')), { code: 101, msg: /10\.1\.0\.2 has been allocated to a, duplicate allocation is not allowed/ });
  t.equal(await allocate(store, rangeSet, owner('a', 'net1')), '10.1.0.3', 'another interface of the container is another attachment');
});

t.test('an ID-only reservation of the container counts as a duplicate for any interface', async (t) => {
  const store = new MemoryStore();
  store.hold(ip('10.1.0.4'), { containerId: 'old' });
  await t.rejects(allocate(store, set({ subnet: '10.1.0.0/29' }), owner('old', 'eth7')), { code: 101 });
});

t.test('a reservation outside the range set is not a duplicate', async (t) => {
  const store = new MemoryStore();
  store.hold(ip('10.9.0.4'), { containerId: 'a', ifName: 'eth0' });
  t.equal(await allocate(store, set({ subnet: '10.1.0.0/29' }), owner('a')), '10.1.0.2');
});

t.test('a requested address is reserved when free and refused as REQUESTED_ADDRESS_UNAVAILABLE (102) otherwise', async (t) => {
  const store = new MemoryStore();
  const rangeSet = set({ subnet: '10.1.0.0/29' });
  t.equal(await allocate(store, rangeSet, owner('a'), '10.1.0.5'), '10.1.0.5');
  await t.rejects(allocate(store, rangeSet, owner('b'), '10.1.0.5'), { code: 102, msg: /requested IP address 10\.1\.0\.5 \(test\) is not available/ });
  await t.rejects(allocate(store, rangeSet, owner('c'), '10.1.0.1'), { code: 102, msg: /is subnet's gateway/ });
  await t.rejects(allocate(store, rangeSet, owner('d'), '10.1.0.7'), { code: 102, msg: /not in range set/ });
  t.equal(await allocate(store, rangeSet, owner('a'), '10.1.0.6'), '10.1.0.6', 'upstream checks no duplicate for a requested address');
});

t.test('free addresses are counted without the gateway', async (t) => {
  const store = new MemoryStore();
  const rangeSet = set({ subnet: '10.1.0.0/29' }, { subnet: '10.2.0.0/30' });
  t.equal(freeAddressCount(rangeSet, await store.scan()), 6n);
  store.hold(ip('10.1.0.1'), { containerId: 'gateway squatter', ifName: 'eth0' });
  store.hold(ip('10.2.0.2'), { containerId: 'a', ifName: 'eth0' });
  store.hold(ip('10.3.0.2'), { containerId: 'elsewhere', ifName: 'eth0' });
  t.equal(freeAddressCount(rangeSet, await store.scan()), 5n);
});
