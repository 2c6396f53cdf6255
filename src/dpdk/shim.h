/* The DPDK API surface vxswitch uses, plus shims for the static-inline calls.
 * Shims are called once per burst, never per packet: Rust cannot inline them. */
#ifndef VXS_SHIM_H
#define VXS_SHIM_H
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_version.h>

uint16_t vxs_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t vxs_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
int vxs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n);
struct rte_mbuf *vxs_pktmbuf_alloc(struct rte_mempool *mp);
void vxs_pktmbuf_free(struct rte_mbuf *m);
int vxs_errno(void);
unsigned vxs_lcore_id(void);
uint16_t vxs_pktmbuf_headroom(void);
#endif
