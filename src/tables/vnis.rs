//! The logical switches with ports on this host, in VNI order. A switch's position is its
//! slot: the index of its counters, and what each port's binding keeps (`port_slot`), so
//! that the data path finds a VM port's switch by index, and decapsulation by the slot its
//! last-tunnel cache kept, instead of hashing the VNI for every frame.

use super::VniInfo;
use crate::ids::Vni;
use hashbrown::HashMap;

#[derive(Clone, Debug, Default)]
pub struct VniTable {
    /// Sorted by VNI; `infos[i].slot == i`.
    infos: Vec<(Vni, VniInfo)>,
    slots: HashMap<Vni, u16>,
}

impl VniTable {
    /// The table of `vnis`, each given its slot in VNI order. The set of switches is fixed
    /// here (their counters are sized from it); later publishes edit them in place.
    pub fn new(vnis: HashMap<Vni, VniInfo>) -> VniTable {
        let mut infos: Vec<(Vni, VniInfo)> = vnis.into_iter().collect();
        infos.sort_by_key(|(v, _)| *v);
        // The configuration refuses more (`config::MAX_SWITCHES`): u16::MAX means no slot.
        infos.truncate(usize::from(u16::MAX));
        let mut slots = HashMap::with_capacity(infos.len());
        for (slot, (vni, info)) in (0u16..).zip(infos.iter_mut()) {
            info.slot = slot;
            slots.insert(*vni, slot);
        }
        VniTable { infos, slots }
    }

    #[inline]
    pub fn get(&self, vni: &Vni) -> Option<&VniInfo> {
        self.by_slot(*self.slots.get(vni)?)
    }

    /// The switch in `slot` (`VniInfo::slot`, `Snapshot::port_slot`): no hashing.
    #[inline]
    pub fn by_slot(&self, slot: u16) -> Option<&VniInfo> {
        self.infos.get(usize::from(slot)).map(|(_, i)| i)
    }

    pub fn get_mut(&mut self, vni: &Vni) -> Option<&mut VniInfo> {
        let slot = *self.slots.get(vni)?;
        self.infos.get_mut(usize::from(slot)).map(|(_, i)| i)
    }

    pub fn contains_key(&self, vni: &Vni) -> bool {
        self.slots.contains_key(vni)
    }

    /// In VNI order.
    pub fn iter(&self) -> impl Iterator<Item = (&Vni, &VniInfo)> {
        self.infos.iter().map(|(v, i)| (v, i))
    }

    pub fn len(&self) -> usize {
        self.infos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vni(n: u32) -> Vni {
        Vni::new(n).unwrap()
    }

    #[test]
    fn slots_follow_vni_order_and_find_the_same_switch_as_the_vni() {
        let mut m = HashMap::new();
        for (n, suppress) in [(7000, true), (5001, false), (6000, true)] {
            let info = VniInfo {
                arp_suppression: suppress,
                ..VniInfo::default()
            };
            m.insert(vni(n), info);
        }
        let mut t = VniTable::new(m);
        let order: Vec<(u32, u16)> = t.iter().map(|(v, i)| (v.get(), i.slot)).collect();
        assert_eq!(order, [(5001, 0), (6000, 1), (7000, 2)]);
        for (v, slot) in [(5001, 0), (6000, 1), (7000, 2)] {
            let by_vni = t.get(&vni(v)).map(|i| (i.slot, i.arp_suppression));
            let by_slot = t.by_slot(slot).map(|i| (i.slot, i.arp_suppression));
            assert_eq!(by_vni, by_slot);
            assert!(by_vni.is_some());
        }
        assert!(t.get(&vni(5002)).is_none());
        assert!(t.by_slot(3).is_none() && t.by_slot(u16::MAX).is_none());
        t.get_mut(&vni(6000)).unwrap().arp_suppression = false;
        assert!(!t.by_slot(1).unwrap().arp_suppression, "edited in place");
        assert_eq!((t.len(), t.contains_key(&vni(7000))), (3, true));
    }
}
