//! The Environment Abstraction Layer: initialised once per process, cleaned up on drop.

use super::{last_error, sys, DpdkError};
use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// Proof that EAL is up; everything that allocates from DPDK borrows or outlives it.
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (argv[0] is added). Refuses a second call.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalTwice);
        }
        let mut owned: Vec<CString> = vec![CString::new("vxswitch").expect("no NUL")];
        for a in args {
            owned.push(
                CString::new(a.as_str())
                    .map_err(|_| DpdkError::EalInit(format!("argument {a:?} contains NUL")))?,
            );
        }
        // rte_eal_init may permute argv, so it gets its own array of pointers.
        let mut argv: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        // SAFETY: argv holds argc valid NUL-terminated strings that live until after the call
        // (owned); EAL keeps no pointer into them after returning.
        let rc = unsafe { sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(DpdkError::EalInit(last_error()));
        }
        Ok(Eal { _private: () })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: EAL was initialised by this value; pools and ports borrow it (their
        // lifetime is tied to `&Eal`), so the borrow checker has dropped every one of them
        // before this runs, and no DPDK object is used after this point.
        unsafe { sys::rte_eal_cleanup() };
    }
}

/// Registers the calling (non-EAL) thread with EAL, giving it an lcore id of its own so that
/// mempool per-lcore caches work for it (without one every alloc and free would take the
/// pool's shared ring, a cache line all workers write). Call once at the start of each
/// worker thread; returns the lcore id.
pub fn register_worker_thread(_eal: &Eal) -> Result<u32, DpdkError> {
    // SAFETY: rte_thread_register only touches the calling thread's EAL state; EAL is up.
    let rc = unsafe { sys::rte_thread_register() };
    if rc < 0 {
        return Err(DpdkError::Thread("worker".into(), last_error()));
    }
    // SAFETY: reads the calling thread's lcore id, set by the registration above.
    Ok(unsafe { sys::vxs_lcore_id() })
}
