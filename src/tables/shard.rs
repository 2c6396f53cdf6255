//! One shard of a `ShardedMap`: a flat open-addressing table (linear probing, deletion by
//! backward shift, so no tombstones), entries inline. A lookup is one index computation and,
//! in the common case, one cache line: no pointer to follow from the shard to its entries.

/// Slots of a shard's first allocation. A shard grows before it is 3/4 full, so every
/// probe sequence ends at an empty slot.
const MIN_SLOTS: usize = 4;

/// One slot: a key and its value, or empty.
pub type Slot<K, V> = Option<(K, V)>;

/// The slot a key with hash `h` starts probing at (the high bits pick the shard).
#[inline(always)]
fn home(h: u64, mask: usize) -> usize {
    (h >> 20) as usize & mask
}

/// Where `k` is (Ok) or the empty slot it would go in (Err) in a non-empty shard.
#[inline(always)]
fn find<K: Eq, V>(slots: &[Slot<K, V>], k: &K, h: u64) -> Result<usize, usize> {
    let mask = slots.len() - 1;
    let mut i = home(h, mask);
    loop {
        match &slots[i] {
            None => return Err(i),
            Some((key, _)) if key == k => return Ok(i),
            Some(_) => i = (i + 1) & mask,
        }
    }
}

/// A published shard's value for `k` (whose hash is `h`).
#[inline(always)]
pub fn get<'a, K: Eq, V>(slots: &'a [Slot<K, V>], k: &K, h: u64) -> Option<&'a V> {
    if slots.is_empty() {
        return None;
    }
    let i = find(slots, k, h).ok()?;
    slots[i].as_ref().map(|(_, v)| v)
}

/// Where a lookup of hash `h` starts reading (for a prefetch): computed from the slice's
/// address and length alone, so it reads nothing the lookup would miss on.
#[inline(always)]
pub fn slot_addr<K, V>(slots: &[Slot<K, V>], h: u64) -> Option<*const u8> {
    let slot = slots.get(home(h, slots.len().wrapping_sub(1)))?;
    Some((slot as *const Slot<K, V>).cast())
}

/// A shard being edited: its slots and how many are full. Published, it becomes the bare
/// slots (`into_slots`), which readers reach with one pointer from the directory.
pub struct Shard<K, V> {
    slots: Vec<Slot<K, V>>,
    len: usize,
}

impl<K, V> Default for Shard<K, V> {
    fn default() -> Self {
        Shard {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Eq + Clone, V: Clone> Shard<K, V> {
    /// An editable copy of published slots.
    pub fn from_slots(slots: &[Slot<K, V>]) -> Shard<K, V> {
        Shard {
            slots: slots.to_vec(),
            len: slots.iter().filter(|s| s.is_some()).count(),
        }
    }

    /// The slots, to publish.
    pub fn into_slots(self) -> std::sync::Arc<[Slot<K, V>]> {
        self.slots.into()
    }

    #[inline]
    pub fn get(&self, k: &K, h: u64) -> Option<&V> {
        get(&self.slots, k, h)
    }

    /// Inserts or replaces; `hash` recomputes the hash of an entry when the table grows.
    pub fn insert(&mut self, k: K, v: V, h: u64, hash: impl Fn(&K) -> u64) -> Option<V> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow(&hash);
        }
        match find(&self.slots, &k, h) {
            Ok(i) => self.slots[i].replace((k, v)).map(|(_, old)| old),
            Err(i) => {
                self.slots[i] = Some((k, v));
                self.len += 1;
                None
            }
        }
    }

    fn grow(&mut self, hash: &impl Fn(&K) -> u64) {
        let n = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, (0..n).map(|_| None).collect());
        let mask = n - 1;
        for (k, v) in old.into_iter().flatten() {
            let mut i = home(hash(&k), mask);
            while self.slots[i].is_some() {
                i = (i + 1) & mask;
            }
            self.slots[i] = Some((k, v));
        }
    }

    pub fn remove(&mut self, k: &K, h: u64, hash: impl Fn(&K) -> u64) -> Option<V> {
        if self.slots.is_empty() {
            return None;
        }
        let mut hole = find(&self.slots, k, h).ok()?;
        let (_, old) = self.slots[hole].take()?;
        self.len -= 1;
        // Backward shift: pull each later entry of the run into the hole if the hole lies
        // between its home slot and where it sits (cyclically).
        let mask = self.slots.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let Some((key, _)) = &self.slots[j] else {
                break;
            };
            let home = home(hash(key), mask);
            let dist_home = j.wrapping_sub(home) & mask;
            let dist_hole = j.wrapping_sub(hole) & mask;
            if dist_hole <= dist_home {
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
        }
        Some(old)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().flatten().map(|(k, v)| (k, v))
    }

    /// Keeps the entries `keep` says yes to; returns how many went.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&K, &V) -> bool,
        hash: impl Fn(&K) -> u64,
    ) -> usize {
        let old = std::mem::take(&mut self.slots);
        let before = self.len;
        self.len = 0;
        for (k, v) in old.into_iter().flatten() {
            if keep(&k, &v) {
                let h = hash(&k);
                self.insert(k, v, h, &hash);
            }
        }
        before - self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A deliberately poor hash so that runs form and wrap around.
    fn h(k: &u32) -> u64 {
        u64::from(*k % 7) << 20
    }

    #[test]
    fn behaves_like_a_hash_map_under_inserts_and_removes() {
        let mut s = Shard::<u32, u32>::default();
        let mut m = HashMap::new();
        let mut x = 12345u32;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let k = (x >> 16) % 64;
            if x % 3 == 0 {
                assert_eq!(s.remove(&k, h(&k), h), m.remove(&k));
            } else {
                assert_eq!(s.insert(k, x, h(&k), h), m.insert(k, x));
            }
            assert_eq!(s.iter().count(), m.len());
        }
        for k in 0..64 {
            assert_eq!(s.get(&k, h(&k)), m.get(&k));
        }
        assert_eq!(s.iter().count(), m.len());
    }

    #[test]
    fn retain_counts_what_went() {
        let mut s = Shard::<u32, u32>::default();
        for k in 0..100 {
            s.insert(k, k, h(&k), h);
        }
        assert_eq!(s.retain(|k, _| k % 2 == 0, h), 50);
        assert!((0..100).all(|k| s.get(&k, h(&k)).is_some() == (k % 2 == 0)));
    }
}
