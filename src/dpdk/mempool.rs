//! Packet buffer pools.

use super::{last_error, sys, DpdkError, Eal};
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// An `rte_mempool` of packet mbufs; freed on drop. It borrows the `Eal`, so EAL cannot be
/// cleaned up under it.
pub struct Mempool<'eal> {
    raw: NonNull<sys::rte_mempool>,
    /// Frame bytes of each mbuf, behind the headroom.
    data_room: usize,
    _eal: PhantomData<&'eal Eal>,
}

// SAFETY: rte_mempool is a multi-producer/multi-consumer pool designed to be shared between
// threads; the pointer stays valid until drop.
unsafe impl Send for Mempool<'_> {}
// SAFETY: as above: every operation on it is thread-safe.
unsafe impl Sync for Mempool<'_> {}

impl<'eal> Mempool<'eal> {
    /// Creates a pool of `count` mbufs with `data_room` bytes (headroom included).
    pub fn new(
        _eal: &'eal Eal,
        name: &str,
        count: u32,
        cache: u32,
        data_room: u16,
    ) -> Result<Self, DpdkError> {
        let err = |reason: String| DpdkError::Mempool {
            name: name.to_owned(),
            reason,
        };
        let cname = CString::new(name).map_err(|_| err("name contains NUL".into()))?;
        // SAFETY: cname is a valid C string; the other arguments are plain values; the
        // socket id comes from EAL for the calling thread.
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                count,
                cache,
                0,
                data_room,
                sys::rte_socket_id() as i32,
            )
        };
        NonNull::new(raw)
            .map(|raw| Mempool {
                raw,
                data_room: usize::from(data_room).saturating_sub(usize::from(headroom())),
                _eal: PhantomData,
            })
            .ok_or_else(|| err(last_error()))
    }

    /// Frame bytes an mbuf of this pool holds behind its headroom.
    #[inline]
    pub fn data_room(&self) -> usize {
        self.data_room
    }

    /// Mbufs currently taken from the pool (in rings, in flight, or leaked).
    pub fn in_use(&self) -> u32 {
        // SAFETY: raw is a live mempool.
        unsafe { sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    pub(super) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.raw.as_ptr()
    }
}

/// RTE_PKTMBUF_HEADROOM, as DPDK was built.
fn headroom() -> u16 {
    // SAFETY: returns a compile-time constant of the C side.
    unsafe { sys::vxs_pktmbuf_headroom() }
}

impl Drop for Mempool<'_> {
    fn drop(&mut self) {
        // SAFETY: every port started with this pool borrows it (`StartedPort`) and was
        // closed before, releasing its rings' mbufs; workers' I/O borrows it too, so no mbuf
        // of it is referenced any more.
        unsafe { sys::rte_mempool_free(self.raw.as_ptr()) };
    }
}
