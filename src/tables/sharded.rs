//! A hash map split into shards behind `Arc`s: readers share it freely, and an edit clones
//! only the shards it touches, so the cost of publishing grows with the change. A lookup
//! reads the directory's entry (the shard's address and slot count, together), then the
//! slot: one dependent load, and a slot address known before the shard is read (prefetch).

use super::shard::{self, Shard, Slot};
use hashbrown::HashMap;
use std::sync::Arc;

/// log2 of the shard count, which follows the table's size: about ENTRIES_PER_SHARD entries
/// a shard, between 64 shards and 4,096 (1M entries at ~256 a shard). Small tables stay
/// dense: 2,048 keys in 4,096 shards touched twice the lines they needed, and a 64 KB
/// directory that every publish rewrites and the worker then reads again (churn dip 17.6%
/// against 6.4% with 64 shards, measured). Large ones keep a publish's copy small.
const MIN_SHARD_BITS: u32 = 6;
const MAX_SHARD_BITS: u32 = 12;
const ENTRIES_PER_SHARD: usize = 32;

/// The shard bits a table of `len` entries wants.
fn shard_bits_for(len: usize) -> u32 {
    let shards = (len / ENTRIES_PER_SHARD).max(1).next_power_of_two();
    shards
        .trailing_zeros()
        .clamp(MIN_SHARD_BITS, MAX_SHARD_BITS)
}

/// A key that picks its shard and slot with a cheap hash of its own.
pub trait ShardKey: Eq + Clone {
    fn shard_hash(&self) -> u64;
}

/// A random key per process, mixed into every table hash: which MACs share a shard or a
/// slot is not something a VM choosing its source MACs can know (hash flooding). Each map
/// keeps a copy, read with its directory: the lookups test no lazy initialization.
static SEED: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
    let mut b = [0u8; 8];
    // Without the kernel's random source the hash is still a good mix, only predictable.
    let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
    u64::from_ne_bytes(b)
});

/// The key's keyed, mixed hash (the seed, then splitmix64's finalizer: every input bit
/// moves every output bit, so keys that differ only in high bytes still spread): the top
/// bits pick the shard, the next ones the slot. Not a cryptographic PRF: a cheap one that
/// the per-packet path can afford. Always inlined: out of line, it read its key back from
/// the stack the caller had just written it to, a store-forwarding stall (half its cost).
#[inline(always)]
fn hash_with<K: ShardKey>(seed: u64, k: &K) -> u64 {
    let mut z = k.shard_hash().wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The shard of hash `h` among `n` (a power of two): the low bits of the hash's top 12
/// (the slot takes bits 20 and up). A mask of the directory's length, which is read with
/// its address: no variable shift, no extra load.
#[inline(always)]
fn shard_of(h: u64, n: usize) -> usize {
    (h >> (64 - MAX_SHARD_BITS)) as usize & (n - 1)
}

/// A published shard: its slots, shared by every version that did not change it.
type Published<K, V> = Arc<[Slot<K, V>]>;

/// An immutable sharded map; `Clone` is cheap (one Arc).
pub struct ShardedMap<K, V> {
    shards: Arc<Vec<Published<K, V>>>,
    len: usize,
    seed: u64,
}

impl<K, V> Clone for ShardedMap<K, V> {
    fn clone(&self) -> Self {
        ShardedMap {
            shards: Arc::clone(&self.shards),
            len: self.len,
            seed: self.seed,
        }
    }
}

impl<K: ShardKey, V: Clone> Default for ShardedMap<K, V> {
    fn default() -> Self {
        let empty: Published<K, V> = Arc::from(Vec::new());
        ShardedMap {
            shards: Arc::new(vec![empty; 1 << MIN_SHARD_BITS]),
            len: 0,
            seed: *SEED,
        }
    }
}

impl<K: ShardKey, V: Clone> ShardedMap<K, V> {
    #[inline(always)]
    pub fn get(&self, k: &K) -> Option<&V> {
        let h = self.hash(k);
        shard::get(&self.shards[shard_of(h, self.shards.len())], k, h)
    }
    /// The table hash of `k` (for `slot_addr`).
    #[inline(always)]
    pub fn hash(&self, k: &K) -> u64 {
        hash_with(self.seed, k)
    }
    /// Where a lookup of hash `h` will start reading: the address a worker prefetches so
    /// that the lookup hits the cache (never dereferenced here; only the directory is read).
    #[inline(always)]
    pub fn slot_addr(&self, h: u64) -> Option<*const u8> {
        shard::slot_addr(&self.shards[shard_of(h, self.shards.len())], h)
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards
            .iter()
            .flat_map(|s| s.iter().flatten().map(|(k, v)| (k, v)))
    }
    /// Starts an edit; `Editor::finish` returns the new version, `self` stays as it was.
    pub fn edit(&self) -> Editor<K, V> {
        Editor {
            base: Arc::clone(&self.shards),
            touched: HashMap::new(),
            len: self.len,
            seed: self.seed,
        }
    }
}

/// Changes to a `ShardedMap`: the shards it touched, each copied out of the published
/// version once; every other shard stays shared.
pub struct Editor<K, V> {
    base: Arc<Vec<Published<K, V>>>,
    touched: HashMap<usize, Shard<K, V>>,
    len: usize,
    seed: u64,
}

impl<K: ShardKey, V: Clone> Editor<K, V> {
    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        let h = hash_with(self.seed, k);
        let i = shard_of(h, self.base.len());
        match self.touched.get(&i) {
            Some(s) => s.get(k, h),
            None => shard::get(&self.base[i], k, h),
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Shard i, copied out of the published version the first time.
    fn owned(&mut self, i: usize) -> &mut Shard<K, V> {
        let base = &self.base;
        self.touched
            .entry(i)
            .or_insert_with(|| Shard::from_slots(&base[i]))
    }
    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let (seed, h) = (self.seed, hash_with(self.seed, &k));
        let old = self
            .owned(shard_of(h, self.base.len()))
            .insert(k, v, h, |k| hash_with(seed, k));
        if old.is_none() {
            self.len += 1;
        }
        old
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (seed, h) = (self.seed, hash_with(self.seed, k));
        self.get(k)?;
        let i = shard_of(h, self.base.len());
        let old = self.owned(i).remove(k, h, |k| hash_with(seed, k));
        self.len -= usize::from(old.is_some());
        old
    }
    /// Removes every entry for which `drop_it` is true; returns how many.
    pub fn remove_where(&mut self, mut drop_it: impl FnMut(&K, &V) -> bool) -> usize {
        let mut removed = 0;
        for i in 0..self.base.len() {
            let any = match self.touched.get(&i) {
                Some(s) => s.iter().any(|(k, v)| drop_it(k, v)),
                None => self.base[i].iter().flatten().any(|(k, v)| drop_it(k, v)),
            };
            if any {
                let seed = self.seed;
                removed += self
                    .owned(i)
                    .retain(|k, v| !drop_it(k, v), |k| hash_with(seed, k));
            }
        }
        self.len -= removed;
        removed
    }
    /// The new version: the touched shards published, the others shared; or, when the
    /// table grew past twice or fell under a quarter of what its shard count suits, every
    /// entry spread again over the count it suits now (a copy of the whole table, once per
    /// doubling or quartering).
    pub fn finish(mut self) -> ShardedMap<K, V> {
        let (have, want) = (self.base.len().trailing_zeros(), shard_bits_for(self.len));
        let shards = if want > have || want + 1 < have {
            let (touched, base) = (&self.touched, &self.base);
            let entries = (0..base.len()).flat_map(|i| -> Box<dyn Iterator<Item = _>> {
                match touched.get(&i) {
                    Some(s) => Box::new(s.iter()),
                    None => Box::new(base[i].iter().flatten().map(|(k, v)| (k, v))),
                }
            });
            reshard(entries, want, self.seed)
        } else {
            (0..self.base.len())
                .map(|i| match self.touched.remove(&i) {
                    Some(s) => s.into_slots(),
                    None => Arc::clone(&self.base[i]),
                })
                .collect()
        };
        ShardedMap {
            shards: Arc::new(shards),
            len: self.len,
            seed: self.seed,
        }
    }
}

/// `entries` spread over `2^bits` new shards.
fn reshard<'a, K: ShardKey + 'a, V: Clone + 'a>(
    entries: impl Iterator<Item = (&'a K, &'a V)>,
    bits: u32,
    seed: u64,
) -> Vec<Published<K, V>> {
    let n = 1usize << bits;
    let mut out: Vec<Shard<K, V>> = (0..n).map(|_| Shard::default()).collect();
    for (k, v) in entries {
        let h = hash_with(seed, k);
        out[shard_of(h, n)].insert(k.clone(), v.clone(), h, |k| hash_with(seed, k));
    }
    out.into_iter().map(Shard::into_slots).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, Eq, Debug)]
    struct K(u64);
    impl ShardKey for K {
        fn shard_hash(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn edit_leaves_the_published_version_untouched() {
        let mut e = ShardedMap::<K, u32>::default().edit();
        for i in 0..1000 {
            e.insert(K(i), i as u32);
        }
        let v1 = e.finish();
        let mut e = v1.edit();
        e.insert(K(5), 55);
        e.remove(&K(6));
        e.insert(K(5000), 1);
        let v2 = e.finish();
        assert_eq!(v1.get(&K(5)), Some(&5));
        assert_eq!(v1.get(&K(6)), Some(&6));
        assert_eq!(v1.len(), 1000);
        assert_eq!(v2.get(&K(5)), Some(&55));
        assert_eq!(v2.get(&K(6)), None);
        assert_eq!(v2.len(), 1000);
    }

    #[test]
    fn an_edit_shares_every_shard_it_did_not_touch() {
        let mut e = ShardedMap::<K, u32>::default().edit();
        for i in 0..100_000 {
            e.insert(K(i), 0);
        }
        let v1 = e.finish();
        let mut e = v1.edit();
        e.insert(K(7), 1);
        let v2 = e.finish();
        let shared = v1
            .shards
            .iter()
            .zip(v2.shards.iter())
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(v1.shards.len(), 1 << MAX_SHARD_BITS);
        assert_eq!(shared, v1.shards.len() - 1);
    }

    #[test]
    fn the_shard_count_follows_the_size_and_no_entry_is_lost_on_the_way() {
        let mut m = ShardedMap::<K, u32>::default();
        assert_eq!(m.shards.len(), 1 << MIN_SHARD_BITS);
        // Grow one publish at a time, as learning does, through every shard count.
        for step in 0..40u64 {
            let mut e = m.edit();
            for i in step * 5_000..(step + 1) * 5_000 {
                e.insert(K(i), i as u32);
            }
            m = e.finish();
            assert_eq!(m.shards.len(), 1 << shard_bits_for(m.len()));
        }
        assert_eq!(m.shards.len(), 1 << MAX_SHARD_BITS);
        assert_eq!(m.len(), 200_000);
        assert!((0..200_000).all(|i| m.get(&K(i)) == Some(&(i as u32))));
        // Shrink: below a quarter the count halves (or more), never just under the line.
        let mut e = m.edit();
        assert_eq!(e.remove_where(|k, _| k.0 >= 1_000), 199_000);
        let small = e.finish();
        assert_eq!(small.shards.len(), 1 << shard_bits_for(1_000));
        assert_eq!(small.iter().count(), 1_000);
        assert!((0..1_000).all(|i| small.get(&K(i)) == Some(&(i as u32))));
        assert_eq!(small.get(&K(1_000)), None);
        // The version before stays whole.
        assert_eq!(m.get(&K(150_000)), Some(&150_000));
    }

    #[test]
    fn a_table_just_under_its_shard_count_keeps_it() {
        let mut e = ShardedMap::<K, u32>::default().edit();
        for i in 0..4_100 {
            e.insert(K(i), 0);
        }
        let m = e.finish();
        let n = m.shards.len();
        let mut e = m.edit();
        e.remove_where(|k, _| k.0 >= 2_000);
        assert_eq!(e.finish().shards.len(), n, "half the entries: same shards");
    }

    #[test]
    fn remove_where_counts_and_keeps_len_right() {
        let mut e = ShardedMap::<K, u32>::default().edit();
        for i in 0..100 {
            e.insert(K(i), (i % 2) as u32);
        }
        assert_eq!(e.remove_where(|_, v| *v == 1), 50);
        assert_eq!(e.len(), 50);
        assert!(e.remove(&K(1)).is_none());
        assert_eq!(e.finish().iter().count(), 50);
    }
}
