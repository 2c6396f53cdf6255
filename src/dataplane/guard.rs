//! Port security on a VM's frames, before anything is learned from them: the source MAC, an
//! ARP's sender (MAC and address) and an IPv4 packet's source must be the port's. A list
//! still waiting for its first address lets the frame pass and claims the address; the
//! management thread locks the list to the first claim it sees.

use super::access::VmFrame;
use super::counters::{DropReason, Stat};
use super::events::{self, Event};
use super::frame::FrameIo;
use super::pipeline::Ctx;
use crate::tables::PortGuard;
use crate::wire::{ArpPacket, EtherType, Ipv4Packet, MacAddr};
use std::net::Ipv4Addr;

/// Whether the VM behind `vm.port` may send this frame; the drop reason if not. `src` is
/// `vm.src` as read from the frame: `vm` was just written on the stack a few bytes at a
/// time, and reading its source back at once stalled on store forwarding (12% of the core
/// in `one-vm-guarded`, perf annotate).
#[inline]
pub fn admit<IO: FrameIo>(
    cx: &mut Ctx<'_, IO>,
    g: &PortGuard,
    vm: &VmFrame,
    src: MacAddr,
    data: &[u8],
) -> Result<(), DropReason> {
    if !g.macs.contains(&src) {
        if !g.takes_mac() {
            return Err(DropReason::SpoofedMac);
        }
        claim(
            cx,
            vm,
            Event::PortMacClaim {
                port: vm.port,
                mac: src,
            },
        );
    }
    let payload = data.get(vm.payload_at..).unwrap_or_default();
    let (ip, refused) = match vm.ethertype {
        EtherType::Arp => {
            let a = ArpPacket::new_checked(payload).map_err(|_| DropReason::BadArp)?;
            if a.sender_mac() != src {
                return Err(DropReason::SpoofedArp);
            }
            (a.sender_ip(), DropReason::SpoofedArp)
        }
        EtherType::Ipv4 => {
            let p = Ipv4Packet::new_checked(payload).map_err(|_| DropReason::BadIpv4)?;
            (p.src(), DropReason::SpoofedIp)
        }
        // IPv6 and other types: the MAC is checked, addresses are not (IPv4 only).
        _ => return Ok(()),
    };
    // 0.0.0.0: a DHCP client before its lease, an ARP probe.
    if ip == Ipv4Addr::UNSPECIFIED || g.ips.contains(&ip) {
        return Ok(());
    }
    if g.takes_ip() && !ip.is_broadcast() && !ip.is_multicast() {
        claim(cx, vm, Event::PortIpClaim { port: vm.port, ip });
        return Ok(());
    }
    Err(refused)
}

/// Asks the management thread to lock a list to this address (once per snapshot).
#[inline]
fn claim<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vm: &VmFrame, e: Event) {
    let key = match e {
        Event::PortMacClaim { mac, .. } => mac.as_u64(),
        Event::PortIpClaim { ip, .. } => u64::from(u32::from(ip)) | 1 << 63,
        _ => return,
    };
    if cx
        .p
        .claims
        .first_report((vm.port, key), key, cx.snap.generation)
    {
        cx.p.counters.add(Stat::PortClaims, 1);
        events::send(&cx.p.events, &cx.p.counters, e);
    }
}
