//! What the fuzz targets and the seed writer share: the record format that carries several
//! frames or messages in one input, and the host the pipeline target runs.

/// Splits an input into records `[tag: u8][len: u16 BE][len bytes]`; a short last record
/// takes what is left. The tag picks a port, a session or a direction.
pub fn records(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&tag, rest) = data.split_first()?;
        let len = match rest {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => return None,
        };
        let rest = &rest[2..];
        let (body, tail) = rest.split_at(len.min(rest.len()));
        data = tail;
        Some((tag, body))
    })
}

/// One record in the format `records` reads.
pub fn record(tag: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("a record fits 64 KiB");
    let mut v = vec![tag];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// The pipeline target's host: an uplink, a VM port locked by config (a DHCP server), one
/// that learns its addresses then locks (at most 4 MACs), one open; VNI 5001 unicast with
/// ARP suppression and a static binding, 5002 multicast; static VTEPs, a UTEP, a neighbour;
/// small tables (built once per input) that age in a minute.
pub const HOST: &str = r#"
[eal]
args = []
[dataplane]
mac_capacity = 256
arp_capacity = 256
aging_secs = 60
[vtep]
ip = "192.168.250.51/24"
mac = "02:00:00:00:00:51"
gateway = "192.168.250.1"
[uplink]
device = "up"
[[access_port]]
name = "vm-a"
device = "a"
vni = 5001
dhcp_server = true
[access_port.port_security]
macs = ["02:aa:aa:aa:aa:aa"]
ips = ["172.16.10.11"]
[[access_port]]
name = "vm-b"
device = "b"
vni = 5001
max_macs = 4
[access_port.port_security]
[[access_port]]
name = "vm-c"
device = "c"
vni = 5002
[[vni]]
vni = 5001
vteps = ["192.168.250.52", "192.168.251.60", "192.168.251.61"]
replication = "unicast"
proxies = ["192.168.251.60"]
[[vni.arp]]
ip = "172.16.10.12"
mac = "02:bb:bb:bb:bb:bb"
[[vni.mac]]
mac = "02:bb:bb:bb:bb:bb"
vtep = "192.168.250.52"
[[vni]]
vni = 5002
vteps = ["192.168.250.52"]
replication = "multicast"
multicast_group = "239.1.1.1"
[[neighbor]]
ip = "192.168.250.52"
mac = "02:00:00:00:00:52"
[[neighbor]]
ip = "192.168.250.1"
mac = "02:00:00:00:00:01"
"#;

/// Ports of `HOST`: the uplink, then the VM ports in order.
pub const PORTS: u8 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_short_tail_is_kept() {
        let mut input = record(1, b"abc");
        input.extend(record(7, b""));
        input.extend([3, 0, 9, b'x']);
        let got: Vec<_> = records(&input).collect();
        assert_eq!(got, vec![(1, &b"abc"[..]), (7, &b""[..]), (3, &b"x"[..])]);
    }

    #[test]
    fn the_host_config_is_valid() {
        vxswitch::config::Config::parse(HOST).unwrap();
    }
}
