mod dpdk;
mod frame;
mod pcap;
mod tables;
mod wire;
fn main() {}
