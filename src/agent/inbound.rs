//! What a controller's push or answer means to this host: each message's fields checked
//! (a message with a bad field is ignored and logged, the session goes on) and turned into
//! an update for the management thread.

use super::hub::Hub;
use super::messages::{ControlUpdate, RemoteVtep};
use crate::proto::{self, controller_message::Body as C, ControllerMessage};

/// One message from a controller, handed to the management thread as an update (the
/// session code and the `agent_protocol` fuzz target call it).
pub fn handle(hub: &Hub, m: ControllerMessage) {
    let r: Result<Option<ControlUpdate>, proto::FieldError> = (|| {
        Ok(match m.body {
            Some(C::VtepTable(t)) => {
                let vni = proto::vni("vtep_table.vni", t.vni)?;
                let mut vteps = Vec::new();
                for v in t.vteps {
                    vteps.push(RemoteVtep {
                        ip: proto::ip(v.ip),
                        prefix_len: v.prefix_len.min(32) as u8,
                        mac: proto::mac("vtep_table.vteps.mac", &v.mac)?,
                        proxy: v.proxy,
                    });
                }
                Some(ControlUpdate::VtepTable { vni, vteps })
            }
            Some(C::LogicalSwitch(l)) => Some(ControlUpdate::LogicalSwitch {
                vni: proto::vni("logical_switch.vni", l.vni)?,
                arp_suppression: l.arp_suppression,
                replication: proto::replication("logical_switch.replication", l.replication)?,
                group: proto::group("logical_switch.multicast_group", l.multicast_group)?,
            }),
            Some(C::ArpReply(r)) => {
                let vni = proto::vni("arp_reply.vni", r.vni)?;
                let found = if r.found {
                    let mac = proto::unicast_mac("arp_reply.mac", &r.mac)?;
                    let vtep = (r.vtep_ip != 0).then(|| proto::ip(r.vtep_ip));
                    Some((mac, vtep))
                } else {
                    None
                };
                Some(ControlUpdate::ArpAnswer {
                    vni,
                    ip: proto::ip(r.ip),
                    found,
                })
            }
            Some(C::MacReply(r)) => {
                let vni = proto::vni("mac_reply.vni", r.vni)?;
                let mac = proto::mac("mac_reply.mac", &r.mac)?;
                let vtep = r.found.then(|| proto::ip(r.vtep_ip));
                let mine = r.vtep_ip == hub.hello.vtep_ip;
                if r.found {
                    hub.local().heard(vni, mac, r.seq, mine);
                }
                // That the controller holds this host's own report: nothing to install.
                (!(r.found && mine)).then_some(ControlUpdate::MacAnswer { vni, mac, vtep })
            }
            Some(C::Error(e)) => {
                tracing::warn!("agent: controller says: {}", e.message);
                None
            }
            Some(C::Welcome(_)) | Some(C::Keepalive(_)) | Some(C::SliceMap(_)) | None => None,
        })
    })();
    match r {
        Ok(Some(u)) => hub.update(u),
        Ok(None) => {}
        Err(e) => tracing::warn!("agent: ignoring a controller message: {e}"),
    }
}
