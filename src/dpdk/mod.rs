//! Every `unsafe` line of vxswitch lives under this module: EAL, mempools, mbufs, ports and
//! the burst I/O of a worker, each behind a safe type.
//!
//! Per-packet mbuf accessors are Rust code on the bindgen'd `rte_mbuf` layout (inlined into
//! the pipeline); the C shim is called once per burst.

mod eal;
mod io;
mod mbuf;
mod mempool;
mod port;
pub mod sys;
mod tx_lock;

pub use eal::{register_worker_thread, Eal};
pub use io::{MbufIo, RxBurst, TxCounts, BURST_SIZE};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{Port, PortConfig, PortStats, StartedPort};
pub use tx_lock::{TxLock, TxQueue};

use std::ffi::CStr;

/// A DPDK call failed; the message names the call and DPDK's reason.
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    #[error("rte_eal_init failed: {0} (check the [eal] args)")]
    EalInit(String),
    #[error("EAL was already initialised in this process (rte_eal_init runs once)")]
    EalTwice,
    #[error("mempool {name}: {reason}")]
    Mempool { name: String, reason: String },
    #[error("device {0:?} was not probed by EAL: check its --vdev/-a argument and driver")]
    NoSuchDevice(String),
    #[error("port {port} ({name}): {call} failed: {reason}")]
    Port {
        port: u16,
        name: String,
        call: &'static str,
        reason: String,
    },
    #[error("{0} threads could not be registered with EAL: {1}")]
    Thread(String, String),
}

/// DPDK's text for an errno value (positive or negative).
fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated
    // string for any input value.
    unsafe { CStr::from_ptr(sys::rte_strerror(code.abs())) }
        .to_string_lossy()
        .into_owned()
}

/// DPDK's rte_errno for the calling thread, as text.
fn last_error() -> String {
    // SAFETY: vxs_errno only reads the thread-local rte_errno.
    strerror(unsafe { sys::vxs_errno() })
}

/// The DPDK version string, e.g. "DPDK 22.11.11".
pub fn version() -> String {
    // SAFETY: rte_version returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::rte_version()) }
        .to_string_lossy()
        .into_owned()
}

/// TSC ticks per second, as EAL measured them at start-up (0 before `rte_eal_init`).
pub fn tsc_hz() -> u64 {
    // SAFETY: rte_get_tsc_hz only reads a value EAL set once at init.
    unsafe { sys::rte_get_tsc_hz() }
}

/// Asks the CPU to bring the cache line at `addr` closer, without waiting: a hint that never
/// reads memory architecturally and never faults, whatever the address. Workers prefetch a
/// burst's table slots before processing it, as VPP does.
#[inline(always)]
pub fn prefetch(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetcht0 only hints the cache (no fault, no architectural read, even for an
    // invalid address); SSE is part of the x86_64 baseline.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(addr.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// The TSC counter, for busy-cycle accounting.
#[inline]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}
