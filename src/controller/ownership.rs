//! What this node may answer for. A single node owns every slice, always. A cluster member
//! owns a slice only while three things hold: the cluster's slice map names it owner, the map
//! names it with the etcd lease it holds now (a map written for an earlier lease of this
//! node is stale), and that lease is valid by this node's own clock. The last one is what
//! rules out two owners: the lease's local deadline is taken from the time a keepalive was
//! *sent*, so it passes before etcd expires the lease, and the leader hands a slice to
//! another member only after etcd expired (or this node released) it.
//!
//! `held` is the set of slices whose tables this node keeps; `refresh` moves it to what
//! the node owns now and says what was lost (tables to drop) and gained (tables to rebuild
//! from the hosts' reports, VTEP tables pushed once the settle window has passed).

use super::slices::SLICES;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Ownership {
    id: String,
    /// None: a single node, owning all slices for good.
    cluster: Option<Lease>,
    pub epoch: u64,
    /// Owner of each slice ("": none while it moves).
    pub owners: Vec<String>,
    /// The lease the map names this node with.
    map_lease: Option<i64>,
    held: Vec<bool>,
    /// Slices gained whose VTEP tables are held back until the hosts have re-reported.
    settling: Vec<Option<Instant>>,
    settle: Duration,
}

#[derive(Debug, Default)]
struct Lease {
    id: Option<i64>,
    valid_until: Option<Instant>,
}

/// Slices that changed hands at this node.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub lost: Vec<usize>,
    pub gained: Vec<usize>,
}

impl Ownership {
    pub fn single(id: &str) -> Ownership {
        Ownership {
            id: id.to_string(),
            cluster: None,
            epoch: 0,
            owners: vec![id.to_string(); SLICES],
            map_lease: None,
            held: vec![true; SLICES],
            settling: vec![None; SLICES],
            settle: Duration::ZERO,
        }
    }

    /// A cluster member: owns nothing until it holds a lease and a map names it.
    pub fn member(id: &str, settle: Duration) -> Ownership {
        Ownership {
            id: id.to_string(),
            cluster: Some(Lease::default()),
            epoch: 0,
            owners: vec![String::new(); SLICES],
            map_lease: None,
            held: vec![false; SLICES],
            settling: vec![None; SLICES],
            settle,
        }
    }

    /// Whether this node answers for `slice` at `now`.
    pub fn owns(&self, slice: usize, now: Instant) -> bool {
        if self.owners.get(slice) != Some(&self.id) {
            return false;
        }
        match &self.cluster {
            None => true,
            Some(l) => {
                l.id.is_some() && l.id == self.map_lease && l.valid_until.is_some_and(|t| now < t)
            }
        }
    }

    /// The lease held now and how long it is valid by this node's clock (None: lost).
    pub fn set_lease(&mut self, id: Option<i64>, valid_until: Option<Instant>) {
        if let Some(l) = &mut self.cluster {
            l.id = id;
            l.valid_until = valid_until;
        }
    }

    pub fn lease(&self) -> Option<i64> {
        self.cluster.as_ref().and_then(|l| l.id)
    }

    /// Whether the lease is valid at `now` (a single node: always).
    pub fn has_authority(&self, now: Instant) -> bool {
        self.cluster
            .as_ref()
            .is_none_or(|l| l.id.is_some() && l.valid_until.is_some_and(|t| now < t))
    }

    /// The owner of `slice` as this node can vouch for it: "" while it has no authority (cut
    /// off from the majority, its map is the last one it read) or while the slice moves.
    pub fn known_owner(&self, slice: usize, now: Instant) -> &str {
        match self.owners.get(slice) {
            Some(o) if self.has_authority(now) => o,
            _ => "",
        }
    }

    /// Takes the cluster's map (an older epoch than the one in use is ignored).
    pub fn set_map(&mut self, epoch: u64, owners: Vec<String>, my_lease: Option<i64>) -> bool {
        if owners.len() != SLICES || epoch < self.epoch {
            return false;
        }
        self.epoch = epoch;
        self.owners = owners;
        self.map_lease = my_lease;
        true
    }

    /// Moves `held` to what this node owns at `now`; gained slices settle from `now`.
    pub fn refresh(&mut self, now: Instant) -> Change {
        let mut c = Change::default();
        for s in 0..SLICES {
            let owns = self.owns(s, now);
            if owns != self.held[s] {
                self.held[s] = owns;
                if owns {
                    c.gained.push(s);
                    self.settling[s] = (!self.settle.is_zero()).then(|| now + self.settle);
                } else {
                    c.lost.push(s);
                    self.settling[s] = None;
                }
            }
        }
        c
    }

    /// Whether `slice`'s VTEP tables are held back (just gained, hosts still reporting).
    pub fn is_settling(&self, slice: usize) -> bool {
        self.settling[slice].is_some()
    }

    /// Slices whose settle window ended by `now` (their VTEP tables go out now).
    pub fn settled(&mut self, now: Instant) -> Vec<usize> {
        let mut out = Vec::new();
        for (s, t) in self.settling.iter_mut().enumerate() {
            if t.is_some_and(|t| t <= now) {
                *t = None;
                out.push(s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(owner_of: impl Fn(usize) -> &'static str) -> Vec<String> {
        (0..SLICES).map(|s| owner_of(s).to_string()).collect()
    }

    #[test]
    fn a_single_node_owns_everything_always() {
        let mut o = Ownership::single("c1");
        let now = Instant::now();
        assert!(o.owns(7, now + Duration::from_secs(1 << 20)));
        assert_eq!(o.refresh(now), Change::default());
        assert!(o.held.iter().all(|h| *h));
    }

    #[test]
    fn a_member_owns_only_with_a_valid_lease_the_map_names() {
        let t0 = Instant::now();
        let mut o = Ownership::member("c1", Duration::from_millis(500));
        let owners = map(|s| if s % 2 == 0 { "c1" } else { "c2" });
        assert!(o.set_map(10, owners.clone(), Some(77)));
        assert!(!o.owns(0, t0), "no lease yet");
        o.set_lease(Some(77), Some(t0 + Duration::from_secs(2)));
        assert!(o.owns(0, t0) && !o.owns(1, t0));
        assert_eq!((o.known_owner(0, t0), o.known_owner(1, t0)), ("c1", "c2"));
        let c = o.refresh(t0);
        assert_eq!(c.gained.len(), SLICES / 2);
        assert!(o.is_settling(0));
        assert!(o.settled(t0 + Duration::from_millis(100)).is_empty());
        assert_eq!(o.settled(t0 + Duration::from_millis(500)).len(), SLICES / 2);
        // The lease's local deadline passes: nothing is owned, before etcd can move it.
        let late = t0 + Duration::from_secs(2);
        assert!(!o.owns(0, late) && !o.has_authority(late));
        assert_eq!(
            (o.known_owner(0, late), o.known_owner(1, late)),
            ("", ""),
            "cut off, its map names no one"
        );
        assert_eq!(o.refresh(late).lost.len(), SLICES / 2);
        // A new lease: the old map (written for lease 77) gives nothing back.
        o.set_lease(Some(78), Some(late + Duration::from_secs(2)));
        assert!(!o.owns(0, late));
        assert!(
            !o.set_map(9, owners.clone(), Some(78)),
            "older epoch ignored"
        );
        assert!(o.set_map(11, owners, Some(78)));
        assert!(o.owns(0, late));
    }
}
