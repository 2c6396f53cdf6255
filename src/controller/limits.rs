//! What hosts may make a controller hold (sessions, table sizes), and duplicate-address
//! detection: an address that moves too often within a window is frozen where it is
//! (RFC 7432 section 15).

use std::time::{Duration, Instant};

/// What the hosts may make a controller hold, and when a flapping address is frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Host sessions at once.
    pub sessions: usize,
    pub vteps_per_vni: usize,
    pub macs_per_vni: usize,
    pub ips_per_vni: usize,
    /// This many moves of one MAC (or one IP's MAC) within `dup_window` freeze it...
    pub dup_moves: u32,
    pub dup_window: Duration,
    /// ... where it is, for this long.
    pub dup_hold: Duration,
}

impl Default for Limits {
    /// RFC 7432's defaults for duplicate detection (5 moves in 180 s); tables sized for
    /// thousands of hosts and a large tenant per VNI.
    fn default() -> Limits {
        Limits {
            sessions: 8192,
            vteps_per_vni: 4096,
            macs_per_vni: 131_072,
            ips_per_vni: 131_072,
            dup_moves: 5,
            dup_window: Duration::from_secs(180),
            dup_hold: Duration::from_secs(180),
        }
    }
}

/// Recent moves of one address: counted within a window; too many freeze it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Flaps {
    window_start: Option<Instant>,
    moves: u32,
    frozen_until: Option<Instant>,
}

impl Flaps {
    pub(super) fn frozen(&self, now: Instant) -> bool {
        self.frozen_until.is_some_and(|t| now < t)
    }

    /// Counts a move; true if it is one too many (the address is frozen from now).
    pub(super) fn moved(&mut self, now: Instant, l: &Limits) -> bool {
        match self.window_start {
            Some(s) if now.saturating_duration_since(s) <= l.dup_window => self.moves += 1,
            _ => {
                self.window_start = Some(now);
                self.moves = 1;
            }
        }
        if self.moves < l.dup_moves {
            return false;
        }
        *self = Flaps {
            frozen_until: Some(now + l.dup_hold),
            ..Flaps::default()
        };
        true
    }
}
