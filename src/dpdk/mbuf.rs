//! An owned mbuf and its per-packet accessors, written in Rust on the bindgen'd layout so
//! that they inline into the pipeline (a C shim could not).

use super::sys;
use crate::dataplane::frame::Frame;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// An owned `rte_mbuf` (possibly one of several references to a shared buffer).
/// Dropping it frees it; the hot path frees in bulk through `MbufIo` instead.
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an mbuf belongs to whoever holds the pointer; it may be handed to another thread
// (DPDK passes mbufs between lcores through rings all the time).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// # Safety
    /// `raw` must be a valid mbuf that the caller owns (one reference) and gives away.
    #[inline]
    pub(super) unsafe fn from_raw(raw: *mut sys::rte_mbuf) -> Mbuf {
        // SAFETY: the caller guarantees raw is a valid, non-null mbuf.
        Mbuf(unsafe { NonNull::new_unchecked(raw) })
    }

    /// Gives up ownership without freeing.
    #[inline]
    pub(super) fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    #[inline]
    fn hdr(&self) -> &sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf; shared reads of its header are fine.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn hdr_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf; callers only write the header of an unshared one.
        unsafe { self.0.as_mut() }
    }

    /// The reference count, read atomically (other lcores may hold references).
    #[inline]
    pub fn refcnt(&self) -> u16 {
        self.refcnt_atomic().load(Ordering::Acquire)
    }

    #[inline]
    pub(super) fn refcnt_atomic(&self) -> &AtomicU16 {
        // SAFETY: refcnt is a 2-byte-aligned u16 inside a live mbuf; DPDK itself updates it
        // with atomic operations, so viewing it as AtomicU16 matches its use.
        unsafe { AtomicU16::from_ptr(std::ptr::addr_of_mut!((*self.0.as_ptr()).refcnt)) }
    }

    #[inline]
    fn unshared(&self) -> bool {
        self.refcnt() == 1
    }

    pub fn nb_segs(&self) -> u16 {
        self.hdr().nb_segs
    }
    pub fn pkt_len(&self) -> u32 {
        self.hdr().pkt_len
    }
    #[inline]
    fn data_len(&self) -> usize {
        usize::from(self.hdr().data_len)
    }

    #[inline]
    pub(super) fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// The frame's bytes across its segments, at most `max` of them (a capture's copy).
    pub fn copy_out(&self, max: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(max.min(self.pkt_len() as usize));
        let mut seg: *const sys::rte_mbuf = self.0.as_ptr();
        while !seg.is_null() && out.len() < max {
            // SAFETY: seg is this mbuf or a segment chained to it; the chain is owned by
            // self and lives as long as it; each segment's data range lies in its buffer.
            let (data, next) = unsafe {
                let h = &*seg;
                let d = std::slice::from_raw_parts(
                    (h.buf_addr as *const u8).add(usize::from(h.data_off)),
                    usize::from(h.data_len),
                );
                (d, h.next as *const sys::rte_mbuf)
            };
            let room = max - out.len();
            out.extend_from_slice(&data[..data.len().min(room)]);
            seg = next;
        }
        out
    }
}

impl Frame for Mbuf {
    /// The first segment's bytes (received frames are single-segment).
    #[inline]
    fn data(&self) -> &[u8] {
        let h = self.hdr();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer (an mbuf
        // invariant DPDK keeps) and lives as long as self.
        unsafe {
            std::slice::from_raw_parts(
                (h.buf_addr as *const u8).add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
    }

    /// # Panics
    /// If the buffer is shared (refcount > 1): writing it would change the other copies.
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        assert!(self.unshared(), "write to a shared mbuf");
        let h = self.hdr();
        // SAFETY: as in data(); the buffer is not shared, and &mut self gives exclusivity.
        unsafe {
            std::slice::from_raw_parts_mut(
                (h.buf_addr as *mut u8).add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
    }

    #[inline]
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        let off = usize::from(self.hdr().data_off);
        if len > off || !self.unshared() {
            return None;
        }
        let h = self.hdr_mut();
        h.data_off = (off - len) as u16;
        h.data_len += len as u16;
        h.pkt_len += len as u32;
        // SAFETY: the new data_off is within the buffer (checked against headroom above) and
        // the range covers the `len` bytes just claimed from the headroom.
        Some(unsafe { std::slice::from_raw_parts_mut((h.buf_addr as *mut u8).add(off - len), len) })
    }

    #[inline]
    fn adj(&mut self, len: usize) -> bool {
        if len > self.data_len() || !self.unshared() {
            return false;
        }
        let h = self.hdr_mut();
        h.data_off += len as u16;
        h.data_len -= len as u16;
        h.pkt_len -= len as u32;
        true
    }

    #[inline]
    fn truncate(&mut self, len: usize) -> bool {
        let cur = self.data_len();
        if len > cur || !self.unshared() || self.nb_segs() != 1 {
            return false;
        }
        let h = self.hdr_mut();
        h.data_len = len as u16;
        h.pkt_len = len as u32;
        true
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns one reference to a valid mbuf chain; rte_pktmbuf_free drops it.
        unsafe { sys::vxs_pktmbuf_free(self.0.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::sys::rte_mbuf;
    use std::mem::{offset_of, size_of};

    /// The offsets our accessors rely on, as DPDK 22.11 lays out rte_mbuf on x86_64
    /// (RTE_IOVA_AS_PA): two cache lines, header fields in the first.
    #[test]
    fn mbuf_layout_is_dpdk_22_11() {
        assert_eq!(size_of::<rte_mbuf>(), 128);
        assert_eq!(offset_of!(rte_mbuf, buf_addr), 0);
        assert_eq!(offset_of!(rte_mbuf, data_off), 16);
        assert_eq!(offset_of!(rte_mbuf, refcnt), 18);
        assert_eq!(offset_of!(rte_mbuf, nb_segs), 20);
        assert_eq!(offset_of!(rte_mbuf, port), 22);
        assert_eq!(offset_of!(rte_mbuf, pkt_len), 36);
        assert_eq!(offset_of!(rte_mbuf, data_len), 40);
        assert_eq!(offset_of!(rte_mbuf, buf_len), 54);
        assert_eq!(offset_of!(rte_mbuf, pool), 56);
        assert_eq!(offset_of!(rte_mbuf, next), 64);
    }
}
