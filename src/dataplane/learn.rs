//! Source-MAC learning: refresh a known entry's timestamp, report a new or moved MAC to the
//! management thread (once per snapshot generation), never write the table here.

use super::events::{self, Event};
use super::frame::{trace, FrameIo};
use super::pipeline::Ctx;
use crate::api::trace::{LearnOutcome, Location, Step};
use crate::ids::Vni;
use crate::tables::{Dest, EntryKind, MacKey};
use crate::wire::MacAddr;

/// Always inlined: out of line, the compiler also stopped inlining the table lookups it
/// makes (+11 cycles per encapsulated frame).
#[inline(always)]
pub fn learn<IO: FrameIo>(cx: &mut Ctx<'_, IO>, vni: Vni, mac: MacAddr, dest: Dest) {
    let key = MacKey { vni, mac };
    let now = cx.p.now;
    let outcome = if cx.p.learned.get((key, dest), cx.snap.generation) == Some(now) {
        // The frame before came from here too and marked the entry seen this second.
        LearnOutcome::Known
    } else {
        lookup(cx, key, dest)
    };
    trace!(
        cx.io,
        Step::Learn {
            vni,
            mac,
            at: match dest {
                Dest::Local(p) => Location::Port(p),
                Dest::Remote(t) => Location::Vtep(
                    cx.snap
                        .tunnels
                        .get(t)
                        .map_or(std::net::Ipv4Addr::UNSPECIFIED, |t| t.ip),
                ),
            },
            outcome,
        }
    );
}

/// The table's answer for a source not just seen: refresh a known entry (and remember it),
/// or report a new or moved MAC.
#[inline(always)]
fn lookup<IO: FrameIo>(cx: &mut Ctx<'_, IO>, key: MacKey, dest: Dest) -> LearnOutcome {
    match cx.snap.macs.get(&key) {
        Some(e) if e.dest == dest => {
            if !IO::DRY_RUN {
                e.touch(cx.p.now);
                cx.p.learned.set((key, dest), cx.snap.generation, cx.p.now);
            }
            LearnOutcome::Known
        }
        // A static entry never moves; frames from elsewhere still forward.
        Some(e) if e.kind == EntryKind::Static => LearnOutcome::StaticElsewhere,
        _ => {
            let hash = key.mac.hash_word() ^ u64::from(key.vni.get());
            if cx
                .p
                .reported
                .first_report((key, dest), hash, cx.snap.generation)
            {
                let (vni, mac) = (key.vni, key.mac);
                events::send(
                    &cx.p.events,
                    &cx.p.counters,
                    Event::MacSeen { vni, mac, dest },
                );
                LearnOutcome::Reported
            } else {
                LearnOutcome::AlreadyReported
            }
        }
    }
}
