//! VNI slices: the unit of ownership in a controller cluster. A VNI belongs to slice
//! `vni % SLICES`; each slice has one owner among the live controllers. Logical switches are
//! usually numbered in runs (5000, 5001, ...), so consecutive VNIs land in consecutive
//! slices and spread over the members; a slice is small enough (1/256 of the VNIs) that
//! moving one on a failure moves little state.
//!
//! `assign` is the leader's rule: every live member gets an even share (the quota differs by
//! at most one slice), and a slice moves only if its owner is gone or holds more than its
//! share, so a member that comes back takes over no more slices than balance requires.

use crate::ids::Vni;

/// Number of VNI slices.
pub const SLICES: usize = 256;

/// The slice of `vni`.
pub fn slice_of(vni: Vni) -> usize {
    vni.get() as usize % SLICES
}

/// The owners of every slice for the live `members` (any order; ids unique), given the
/// `previous` owners (empty or `SLICES` long). No live member: no owner at all.
pub fn assign(previous: &[Option<String>], members: &[String]) -> Vec<Option<String>> {
    let mut live: Vec<&String> = members.iter().collect();
    live.sort();
    live.dedup();
    if live.is_empty() {
        return vec![None; SLICES];
    }
    // Quotas: the first `SLICES % n` members (in id order) take one slice more.
    let (base, extra) = (SLICES / live.len(), SLICES % live.len());
    let quota = |i: usize| base + usize::from(i < extra);
    let index = |id: &str| live.iter().position(|m| m.as_str() == id);
    let mut held = vec![0usize; live.len()];
    let mut owners: Vec<Option<usize>> = vec![None; SLICES];
    // Keep what a live member already owns, up to its quota.
    for (slice, prev) in previous.iter().enumerate().take(SLICES) {
        if let Some(i) = prev.as_deref().and_then(index) {
            if held[i] < quota(i) {
                held[i] += 1;
                owners[slice] = Some(i);
            }
        }
    }
    // Hand the rest to the members below their quota, lowest slices first.
    let mut next = 0;
    for owner in owners.iter_mut().filter(|o| o.is_none()) {
        while held[next] >= quota(next) {
            next += 1;
        }
        held[next] += 1;
        *owner = Some(next);
    }
    owners
        .into_iter()
        .map(|o| o.map(|i| live[i].clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn count(a: &[Option<String>], id: &str) -> usize {
        a.iter().filter(|o| o.as_deref() == Some(id)).count()
    }

    fn moved(a: &[Option<String>], b: &[Option<String>]) -> usize {
        a.iter().zip(b).filter(|(x, y)| x != y).count()
    }

    #[test]
    fn consecutive_vnis_fall_in_consecutive_slices() {
        let s: Vec<usize> = (5000..5003)
            .map(|v| slice_of(Vni::new(v).unwrap()))
            .collect();
        assert_eq!(s, [5000 % 256, 5001 % 256, 5002 % 256]);
        assert_eq!(slice_of(Vni::new(5000 + 256).unwrap()), 5000 % 256);
    }

    #[test]
    fn slices_are_spread_evenly_over_the_live_members() {
        let a = assign(&[], &ids(&["c3", "c1", "c2"]));
        assert_eq!(a.len(), SLICES);
        assert_eq!(
            [count(&a, "c1"), count(&a, "c2"), count(&a, "c3")],
            [86, 85, 85]
        );
        assert_eq!(assign(&[], &[]), vec![None; SLICES]);
        assert_eq!(
            a,
            assign(&[], &ids(&["c1", "c2", "c3"])),
            "order does not matter"
        );
    }

    #[test]
    fn a_dead_members_slices_move_and_nothing_else() {
        let three = assign(&[], &ids(&["c1", "c2", "c3"]));
        let two = assign(&three, &ids(&["c1", "c3"]));
        assert_eq!(count(&two, "c2"), 0);
        assert_eq!([count(&two, "c1"), count(&two, "c3")], [128, 128]);
        assert_eq!(moved(&three, &two), 85, "only c2's slices moved");
        for (before, after) in three.iter().zip(&two) {
            if before.as_deref() != Some("c2") {
                assert_eq!(before, after);
            }
        }
    }

    #[test]
    fn a_member_coming_back_takes_only_its_share() {
        let three = assign(&[], &ids(&["c1", "c2", "c3"]));
        let two = assign(&three, &ids(&["c1", "c3"]));
        let back = assign(&two, &ids(&["c1", "c2", "c3"]));
        assert_eq!(
            [count(&back, "c1"), count(&back, "c2"), count(&back, "c3")],
            [86, 85, 85]
        );
        assert_eq!(moved(&two, &back), 85, "the least a rebalance can move");
        assert_eq!(assign(&back, &ids(&["c1", "c2", "c3"])), back, "stable");
    }

    #[test]
    fn owners_that_are_not_members_are_ignored() {
        let prev = vec![Some("gone".to_string()); SLICES];
        let a = assign(&prev, &ids(&["c1"]));
        assert!(a.iter().all(|o| o.as_deref() == Some("c1")));
        let short = assign(&prev[..10], &ids(&["c1", "c2"]));
        assert_eq!([count(&short, "c1"), count(&short, "c2")], [128, 128]);
    }
}
