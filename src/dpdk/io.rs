//! A worker's burst I/O: RX bursts in, per-port TX buffers out, bulk frees, and payload
//! sharing for replication (refcount plus a private header mbuf, as DPDK's
//! `ipv4_multicast` example weighs it: no indirect mbuf, no copy of the payload).

use super::{sys, Mbuf, Mempool, StartedPort, TxLock, TxQueue};
use crate::api::capture::Direction;
use crate::dataplane::capture::Capture;
use crate::dataplane::frame::{Frame, FrameIo};
use crate::tables::{PortIdx, UPLINK};
use std::sync::atomic::Ordering;

/// Frames per RX burst and per TX flush.
pub const BURST_SIZE: usize = 32;

/// One RX burst's mbufs, owned until drained.
pub struct RxBurst {
    pkts: [*mut sys::rte_mbuf; BURST_SIZE],
    len: usize,
}

impl Default for RxBurst {
    fn default() -> Self {
        RxBurst {
            pkts: [std::ptr::null_mut(); BURST_SIZE],
            len: 0,
        }
    }
}

impl RxBurst {
    /// Receives up to BURST_SIZE frames from `queue` of `port`; returns how many.
    #[inline]
    pub fn poll(&mut self, port: &StartedPort<'_>, queue: u16) -> usize {
        debug_assert_eq!(self.len, 0);
        // SAFETY: pkts has room for BURST_SIZE pointers; the port is started and this
        // thread is the only one polling this queue.
        let n = unsafe {
            sys::vxs_rx_burst(port.id(), queue, self.pkts.as_mut_ptr(), BURST_SIZE as u16)
        };
        self.len = usize::from(n);
        self.len
    }

    /// Calls `f` with each received frame's bytes without taking them (a prefetch pass).
    #[inline]
    pub fn peek(&self, mut f: impl FnMut(&[u8])) {
        for &p in &self.pkts[..self.len] {
            // SAFETY: pkts[..len] are mbufs this burst owns; ManuallyDrop keeps this
            // temporary view from freeing them.
            let m = std::mem::ManuallyDrop::new(unsafe { Mbuf::from_raw(p) });
            f(m.data());
        }
    }

    /// Takes the received mbufs; any not consumed are freed when the iterator drops.
    #[inline]
    pub fn drain(&mut self) -> RxDrain<'_> {
        let len = std::mem::take(&mut self.len);
        RxDrain {
            burst: self,
            at: 0,
            len,
        }
    }
}

/// The mbufs of one burst, handed out one by one.
pub struct RxDrain<'a> {
    burst: &'a mut RxBurst,
    at: usize,
    len: usize,
}

impl Iterator for RxDrain<'_> {
    type Item = Mbuf;
    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.at == self.len {
            return None;
        }
        let p = self.burst.pkts[self.at];
        self.at += 1;
        // SAFETY: rx_burst filled pkts[..len] with mbufs now owned by us, each handed out once.
        Some(unsafe { Mbuf::from_raw(p) })
    }
}

impl Drop for RxDrain<'_> {
    fn drop(&mut self) {
        for m in self.by_ref() {
            drop(m);
        }
    }
}

/// A port's transmit buffer in one worker, with what the driver refused.
struct TxBuffer<'p> {
    port_id: u16,
    /// Its PortIdx (what a capture names).
    idx: PortIdx,
    queue: u16,
    /// Held while flushing when other workers share the queue.
    lock: Option<&'p TxLock>,
    pkts: [*mut sys::rte_mbuf; BURST_SIZE],
    len: usize,
    sent: u64,
    refused: u64,
    lock_waits: u64,
}

/// Transmit counters of one port in one worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxCounts {
    pub sent: u64,
    pub refused: u64,
    /// Flushes that found the shared queue's lock held by another worker.
    pub lock_waits: u64,
}

/// The worker side of `FrameIo` on DPDK.
pub struct MbufIo<'p> {
    pool: &'p Mempool<'p>,
    /// Mbufs for frames larger than the standard pool's (jumbo frames, GSO segments).
    large: Option<&'p Mempool<'p>>,
    /// The uplink cannot transmit mbuf chains: replicas are copied into one mbuf.
    linear_replicas: bool,
    tx: Vec<TxBuffer<'p>>,
    to_free: [*mut sys::rte_mbuf; BURST_SIZE],
    n_free: usize,
    stash: [*mut sys::rte_mbuf; BURST_SIZE],
    n_stash: usize,
    /// Header mbufs the pool could not give.
    pub alloc_failures: u64,
    /// `vxswitch capture`: frames of the captured port are copied at each flush.
    capture: Option<&'p Capture>,
}

// SAFETY: MbufIo owns the mbufs in its buffers; it is created and used by one worker thread
// but may be built by another before the worker starts.
unsafe impl Send for MbufIo<'_> {}

impl<'p> MbufIo<'p> {
    /// `ports[i]` is the port of PortIdx i; this worker transmits on queue `tx[i]` of it.
    pub fn new(
        pool: &'p Mempool<'p>,
        large: Option<&'p Mempool<'p>>,
        ports: &[&StartedPort<'_>],
        tx: &[TxQueue<'p>],
    ) -> MbufIo<'p> {
        let linear_replicas = ports
            .get(usize::from(UPLINK))
            .is_some_and(|p| !p.multi_seg_tx());
        let tx = ports
            .iter()
            .zip(tx)
            .enumerate()
            .map(|(i, (p, q))| TxBuffer {
                port_id: p.id(),
                idx: i as PortIdx,
                queue: q.queue,
                lock: q.lock,
                pkts: [std::ptr::null_mut(); BURST_SIZE],
                len: 0,
                sent: 0,
                refused: 0,
                lock_waits: 0,
            })
            .collect();
        MbufIo {
            pool,
            large,
            linear_replicas,
            tx,
            to_free: [std::ptr::null_mut(); BURST_SIZE],
            n_free: 0,
            stash: [std::ptr::null_mut(); BURST_SIZE],
            n_stash: 0,
            alloc_failures: 0,
            capture: None,
        }
    }

    /// Copies what the captured port transmits into `c`.
    pub fn with_capture(mut self, c: &'p Capture) -> MbufIo<'p> {
        self.capture = Some(c);
        self
    }

    /// Transmit counters of `port` so far.
    pub fn tx_counts(&self, port: PortIdx) -> TxCounts {
        self.tx
            .get(usize::from(port))
            .map(|t| TxCounts {
                sent: t.sent,
                refused: t.refused,
                lock_waits: t.lock_waits,
            })
            .unwrap_or_default()
    }

    /// Sends every buffered frame and frees every dropped one: call at the end of a burst.
    #[inline]
    pub fn flush(&mut self) {
        for i in 0..self.tx.len() {
            if self.tx[i].len > 0 {
                if let Some(c) = self.capture {
                    Self::capture_tx(c, &self.tx[i]);
                }
                Self::flush_tx(&mut self.tx[i]);
            }
        }
        self.flush_free();
    }

    /// The frames about to leave on a captured port, copied (before the driver owns them).
    #[inline]
    fn capture_tx(c: &Capture, t: &TxBuffer<'_>) {
        if !c.wants(t.idx, Direction::Tx) {
            return;
        }
        for &p in &t.pkts[..t.len] {
            // SAFETY: pkts[..len] are mbufs this buffer owns; ManuallyDrop keeps this
            // temporary view from freeing them.
            let m = std::mem::ManuallyDrop::new(unsafe { Mbuf::from_raw(p) });
            c.record(Direction::Tx, m.pkt_len(), m.copy_out(c.snaplen()));
        }
    }

    /// A buffer that filled within a burst (BUM copies): out of line, so that `send` stays
    /// small enough to inline everywhere.
    #[inline(never)]
    fn flush_full(capture: Option<&Capture>, t: &mut TxBuffer<'_>) {
        if let Some(c) = capture {
            Self::capture_tx(c, t);
        }
        Self::flush_tx(t);
    }

    #[inline]
    fn flush_tx(t: &mut TxBuffer<'_>) {
        let guard = t.lock.map(|l| {
            let (g, waited) = l.lock();
            t.lock_waits += u64::from(waited);
            g
        });
        // SAFETY: pkts[..len] are owned mbufs; the queue is this worker's alone, or shared
        // and its lock held until the burst is handed over.
        let n = usize::from(unsafe {
            sys::vxs_tx_burst(t.port_id, t.queue, t.pkts.as_mut_ptr(), t.len as u16)
        });
        drop(guard);
        t.sent += n as u64;
        if n < t.len {
            t.refused += (t.len - n) as u64;
            // SAFETY: the driver did not take pkts[n..len]; we still own them.
            unsafe { sys::rte_pktmbuf_free_bulk(t.pkts.as_mut_ptr().add(n), (t.len - n) as u32) };
        }
        t.len = 0;
    }

    #[inline]
    fn flush_free(&mut self) {
        if self.n_free > 0 {
            // SAFETY: to_free[..n_free] are owned mbufs.
            unsafe { sys::rte_pktmbuf_free_bulk(self.to_free.as_mut_ptr(), self.n_free as u32) };
            self.n_free = 0;
        }
    }

    /// A fresh mbuf of the standard pool (replica headers and copies, the VTEP stack's
    /// frames), from a stash refilled in bulk: one pool call per 32.
    #[inline]
    fn fresh_mbuf(&mut self) -> Option<*mut sys::rte_mbuf> {
        if self.n_stash == 0 {
            // SAFETY: stash has room for BURST_SIZE pointers; the pool is live.
            let rc = unsafe {
                sys::vxs_pktmbuf_alloc_bulk(
                    self.pool.as_ptr(),
                    self.stash.as_mut_ptr(),
                    BURST_SIZE as u32,
                )
            };
            if rc != 0 {
                self.alloc_failures += 1;
                return None;
            }
            self.n_stash = BURST_SIZE;
        }
        self.n_stash -= 1;
        Some(self.stash[self.n_stash])
    }
}

impl FrameIo for MbufIo<'_> {
    type Frame = Mbuf;

    #[inline(always)]
    fn send(&mut self, port: PortIdx, frame: Mbuf) {
        let Some(t) = self.tx.get_mut(usize::from(port)) else {
            self.free(frame);
            return;
        };
        t.pkts[t.len] = frame.into_raw();
        t.len += 1;
        if t.len == BURST_SIZE {
            Self::flush_full(self.capture, t);
        }
    }

    #[inline]
    fn free(&mut self, frame: Mbuf) {
        self.to_free[self.n_free] = frame.into_raw();
        self.n_free += 1;
        if self.n_free == BURST_SIZE {
            self.flush_free();
        }
    }

    #[inline]
    fn share(&mut self, frame: &Mbuf) -> Mbuf {
        frame.refcnt_atomic().fetch_add(1, Ordering::AcqRel);
        // SAFETY: the refcount now accounts for the new owner of the same mbuf.
        unsafe { Mbuf::from_raw(frame.as_ptr()) }
    }

    #[inline(always)]
    fn with_header(
        &mut self,
        payload: &Mbuf,
        header_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Option<Mbuf> {
        if self.linear_replicas {
            // One segment for a port without multi-segment TX: a copy of the payload.
            let body = payload.data();
            let mut m = self.alloc(header_len + body.len())?;
            // data_len is header_len + body.len() (alloc), so the split is in range.
            let (header, rest) = m.data_mut().split_at_mut(header_len);
            write(header);
            copy_body(rest, body);
            return Some(m);
        }
        let head = self.fresh_mbuf()?;
        // SAFETY: head is a freshly allocated, reset mbuf we own; the header fits in its
        // data room (checked); payload is a valid mbuf whose refcount we raise for the chain.
        let mut m = unsafe {
            let h = &mut *head;
            let room = usize::from(h.buf_len) - usize::from(h.data_off);
            if header_len > room {
                self.free(Mbuf::from_raw(head));
                return None;
            }
            h.data_len = header_len as u16;
            h.pkt_len = header_len as u32 + payload.pkt_len();
            h.nb_segs = 1 + payload.nb_segs();
            payload.refcnt_atomic().fetch_add(1, Ordering::AcqRel);
            h.next = payload.as_ptr();
            Mbuf::from_raw(head)
        };
        write(m.data_mut());
        Some(m)
    }

    #[inline]
    fn alloc(&mut self, len: usize) -> Option<Mbuf> {
        let pool = match self.large {
            Some(l) if len > self.pool.data_room() => l,
            _ => self.pool,
        };
        if len > pool.data_room() {
            return None;
        }
        let raw = if std::ptr::eq(pool, self.pool) {
            self.fresh_mbuf()?
        } else {
            // SAFETY: the pool is live; a null result is handled.
            let raw = unsafe { sys::vxs_pktmbuf_alloc(pool.as_ptr()) };
            if raw.is_null() {
                self.alloc_failures += 1;
                return None;
            }
            raw
        };
        // SAFETY: raw is a fresh mbuf we own, reset by the allocation (data_off at the
        // headroom); len fits the data room behind it (checked above).
        unsafe {
            let h = &mut *raw;
            h.data_len = len as u16;
            h.pkt_len = len as u32;
            Some(Mbuf::from_raw(raw))
        }
    }
}

/// `dst.copy_from_slice(src)` for a replica's body, inline in 32-byte moves (the last one
/// overlapping) up to 128 bytes: libc's call cost a small frame's copy about twice.
#[inline(always)]
fn copy_body(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if !(32..=128).contains(&n) || dst.len() != n {
        return dst.copy_from_slice(src);
    }
    let mut i = 0;
    while i + 32 <= n {
        dst[i..i + 32].copy_from_slice(&src[i..i + 32]);
        i += 32;
    }
    if i < n {
        dst[n - 32..].copy_from_slice(&src[n - 32..]);
    }
}

impl Drop for MbufIo<'_> {
    fn drop(&mut self) {
        self.flush();
        if self.n_stash > 0 {
            // SAFETY: stash[..n_stash] are owned, unused mbufs.
            unsafe { sys::rte_pktmbuf_free_bulk(self.stash.as_mut_ptr(), self.n_stash as u32) };
            self.n_stash = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_body;

    #[test]
    fn copy_body_copies_every_length() {
        let src: Vec<u8> = (0..200u8).collect();
        for n in 0..200 {
            let mut dst = vec![0xffu8; n];
            copy_body(&mut dst, &src[..n]);
            assert_eq!(dst, src[..n], "length {n}");
        }
    }
}
