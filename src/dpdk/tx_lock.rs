//! A TX queue that several workers share, when a port has fewer TX queues than workers (a
//! vhost-user VM with one queue pair, net_pcap, net_tap, a NIC with few queues): a spin lock
//! taken once per burst flush, as VPP's shared TX queues and OVS-DPDK's dynamic TX queue
//! assignment do. Ports with a queue per worker take no lock.

use std::sync::atomic::{AtomicBool, Ordering};

/// The lock of one shared TX queue, alone in its cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct TxLock {
    held: AtomicBool,
}

impl TxLock {
    /// Takes the lock, spinning while another worker transmits; returns whether it had to
    /// wait.
    #[inline]
    pub fn lock(&self) -> (TxGuard<'_>, bool) {
        let mut waited = false;
        loop {
            if self
                .held
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return (TxGuard(self), waited);
            }
            waited = true;
            while self.held.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        }
    }
}

/// Holds a [`TxLock`] until dropped.
pub struct TxGuard<'a>(&'a TxLock);

impl Drop for TxGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
    }
}

/// Which TX queue of a port a worker uses, and its lock when other workers share it.
#[derive(Debug, Clone, Copy)]
pub struct TxQueue<'a> {
    pub queue: u16,
    pub lock: Option<&'a TxLock>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn one_holder_at_a_time() {
        let lock = Arc::new(TxLock::default());
        let inside = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let (_g, _) = lock.lock();
                        assert!(!inside.swap(true, Ordering::Relaxed), "two holders");
                        inside.store(false, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (_g, waited) = lock.lock();
        assert!(!waited);
    }
}
