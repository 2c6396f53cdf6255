//! One-entry memories of a lookup a worker just did, valid under one snapshot generation:
//! the frames of a burst mostly come from the flow of the frame before them, so the answer
//! is the same (VPP's l2-learn "same key as the last packet" check, and `vxlan-input`'s
//! last-tunnel cache). A hit costs a compare; a miss, the compare and one store.

/// The last `(key, value)` seen under `generation`.
#[derive(Clone, Copy, Debug)]
pub struct Recent<K, V> {
    last: Option<(K, u64, V)>,
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent { last: None }
    }
}

impl<K: Copy + PartialEq, V: Copy> Recent<K, V> {
    /// The value stored for `key` under `generation`, if it is the last one stored.
    #[inline]
    pub fn get(&self, key: K, generation: u64) -> Option<V> {
        match self.last {
            Some((k, g, v)) if k == key && g == generation => Some(v),
            _ => None,
        }
    }

    #[inline]
    pub fn set(&mut self, key: K, generation: u64, value: V) {
        self.last = Some((key, generation, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_holds_for_its_key_and_generation_only() {
        let mut r: Recent<u32, u16> = Recent::default();
        assert_eq!(r.get(1, 0), None);
        r.set(1, 7, 40);
        assert_eq!(r.get(1, 7), Some(40));
        assert_eq!(r.get(2, 7), None, "another key");
        assert_eq!(r.get(1, 8), None, "a newer snapshot");
        r.set(2, 8, 41);
        assert_eq!((r.get(1, 7), r.get(2, 8)), (None, Some(41)), "one entry");
    }
}
