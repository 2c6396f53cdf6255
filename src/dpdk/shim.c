#include "shim.h"

uint16_t vxs_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t vxs_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

int vxs_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned n)
{
	return rte_pktmbuf_alloc_bulk(mp, pkts, n);
}

struct rte_mbuf *vxs_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

void vxs_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

int vxs_errno(void)
{
	return rte_errno;
}

unsigned vxs_lcore_id(void)
{
	return rte_lcore_id();
}

uint16_t vxs_pktmbuf_headroom(void)
{
	return RTE_PKTMBUF_HEADROOM;
}
