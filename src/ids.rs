//! The identifiers every boundary shares (config, agent protocol, REST API, host API, CLI):
//! checked once when they are made, so a `Vni` is a VNI wherever it travels.
#![forbid(unsafe_code)]

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A VXLAN network identifier: one logical switch. 24 bits on the wire; 0 is not used.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vni(u32);

/// A number that is not a VNI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a VNI (1-16777215)")]
pub struct VniError(pub String);

impl Vni {
    /// The largest VNI (24 bits).
    pub const MAX: u32 = (1 << 24) - 1;

    /// `v` if it is a VNI. The only range check of VNIs in vxswitch.
    #[inline]
    pub const fn new(v: u32) -> Option<Vni> {
        if v >= 1 && v <= Self::MAX {
            Some(Vni(v))
        } else {
            None
        }
    }

    /// A VNI constant: `const V: Vni = Vni::from_const(5001);` fails to compile if it is not.
    pub const fn from_const(v: u32) -> Vni {
        match Self::new(v) {
            Some(v) => v,
            None => panic!("not a VNI"),
        }
    }

    /// The number, as the VXLAN header carries it.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<Vni> for u32 {
    fn from(v: Vni) -> u32 {
        v.0
    }
}

impl From<Vni> for u64 {
    fn from(v: Vni) -> u64 {
        u64::from(v.0)
    }
}

impl TryFrom<u32> for Vni {
    type Error = VniError;
    fn try_from(v: u32) -> Result<Vni, VniError> {
        Vni::new(v).ok_or_else(|| VniError(v.to_string()))
    }
}

impl TryFrom<u64> for Vni {
    type Error = VniError;
    fn try_from(v: u64) -> Result<Vni, VniError> {
        u32::try_from(v)
            .ok()
            .and_then(Vni::new)
            .ok_or_else(|| VniError(v.to_string()))
    }
}

impl FromStr for Vni {
    type Err = VniError;
    fn from_str(s: &str) -> Result<Vni, VniError> {
        s.parse::<u32>()
            .ok()
            .and_then(Vni::new)
            .ok_or_else(|| VniError(format!("{s:?}")))
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Vni {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Vni {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Vni, D::Error> {
        let v = u64::deserialize(d)?;
        Vni::try_from(v).map_err(serde::de::Error::custom)
    }
}

/// How a logical switch carries broadcast, unknown unicast and multicast (BUM) frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationMode {
    /// One copy per remote segment to a UTEP, which replicates in its own segment.
    #[default]
    Unicast,
    /// Underlay multicast in the sender's segment, MTEPs for the others.
    Hybrid,
    /// Underlay multicast everywhere.
    Multicast,
    /// One unicast copy to every remote VTEP (small flat underlays).
    HeadEnd,
}

impl ReplicationMode {
    pub const ALL: [ReplicationMode; 4] = [
        ReplicationMode::Unicast,
        ReplicationMode::Hybrid,
        ReplicationMode::Multicast,
        ReplicationMode::HeadEnd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReplicationMode::Unicast => "unicast",
            ReplicationMode::Hybrid => "hybrid",
            ReplicationMode::Multicast => "multicast",
            ReplicationMode::HeadEnd => "head-end",
        }
    }

    /// The name of a segment's proxy in this mode, if the mode has one.
    pub fn proxy_role(self) -> Option<&'static str> {
        match self {
            ReplicationMode::Unicast => Some("UTEP"),
            ReplicationMode::Hybrid => Some("MTEP"),
            ReplicationMode::Multicast | ReplicationMode::HeadEnd => None,
        }
    }

    /// Hybrid and multicast modes need an underlay group.
    pub fn needs_group(self) -> bool {
        matches!(self, ReplicationMode::Hybrid | ReplicationMode::Multicast)
    }
}

impl fmt::Display for ReplicationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReplicationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<ReplicationMode, String> {
        ReplicationMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a replication mode (unicast, hybrid, multicast, head-end)")
            })
    }
}

/// An IPv4 address with its prefix length: a VTEP on its segment (`192.168.250.51/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    /// 0-32.
    pub prefix_len: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Net> {
        (prefix_len <= 32).then_some(Ipv4Net { addr, prefix_len })
    }

    /// The netmask as an address (255.255.255.0 for /24).
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }

    fn mask(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        }
    }

    /// The network address: the segment (192.168.250.0 for 192.168.250.51/24).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// True if `ip` is on the same segment.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) ^ u32::from(self.addr)) & self.mask() == 0
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Ipv4Net, String> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} needs a prefix length, like 192.168.250.51/24"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
        let prefix_len = len
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("prefix length {len:?} is not 0-32"))?;
        Ok(Ipv4Net { addr, prefix_len })
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ipv4Net, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_is_checked_once_wherever_it_comes_from() {
        assert!(Vni::new(0).is_none());
        assert!(Vni::new(Vni::MAX + 1).is_none());
        assert_eq!(Vni::new(Vni::MAX).map(Vni::get), Some(Vni::MAX));
        assert_eq!("5001".parse::<Vni>().unwrap().get(), 5001);
        assert!("0x10".parse::<Vni>().is_err());
        assert!(Vni::try_from(1u64 << 32).is_err());
        assert_eq!(serde_json::from_str::<Vni>("5001").unwrap().get(), 5001);
        let e = serde_json::from_str::<Vni>("16777216")
            .unwrap_err()
            .to_string();
        assert!(e.contains("16777216 is not a VNI"), "{e}");
        assert!(serde_json::from_str::<Vni>("-1").is_err());
        assert_eq!(serde_json::to_string(&Vni::from_const(7)).unwrap(), "7");
    }

    #[test]
    fn replication_modes_have_one_name_each_and_no_fallback() {
        for m in ReplicationMode::ALL {
            assert_eq!(m.name().parse::<ReplicationMode>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        }
        assert!("broadcast".parse::<ReplicationMode>().is_err());
        assert!(serde_json::from_str::<ReplicationMode>("\"Unicast\"").is_err());
    }

    #[test]
    fn prefixes_give_segment_mask_and_membership() {
        let n: Ipv4Net = "192.168.250.51/24".parse().unwrap();
        assert_eq!(n.network(), Ipv4Addr::new(192, 168, 250, 0));
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(n.contains(Ipv4Addr::new(192, 168, 250, 52)));
        assert!(!n.contains(Ipv4Addr::new(192, 168, 251, 52)));
        assert_eq!(n.to_string(), "192.168.250.51/24");
        assert!("192.168.250.51".parse::<Ipv4Net>().is_err());
        assert!("192.168.250.51/33".parse::<Ipv4Net>().is_err());
        let all: Ipv4Net = "10.0.0.1/0".parse().unwrap();
        assert_eq!(
            serde_json::from_value::<Ipv4Net>(serde_json::to_value(all).unwrap()).unwrap(),
            all
        );
        assert_eq!(all.netmask(), Ipv4Addr::UNSPECIFIED);
        assert!(all.contains(Ipv4Addr::new(1, 2, 3, 4)));
    }
}
