//! Generates our own DPDK bindings (`dpdk-sys`) with bindgen and compiles the C shim that
//! exposes DPDK's static-inline burst calls as real symbols.
//!
//! DPDK is found with pkg-config; its raw cflags (`-include rte_config.h -march=...`) go to
//! both bindgen and cc so that the layout Rust sees is the layout the C library was built with.

use std::env;
use std::path::PathBuf;

fn main() {
    let dpdk = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("libdpdk (DPDK >= 22.11) not found by pkg-config: apt-get install libdpdk-dev");
    let cflags = cflags_of("libdpdk").unwrap_or_default();

    let mut cc = cc::Build::new();
    cc.file("src/dpdk/shim.c")
        .define("ALLOW_EXPERIMENTAL_API", None)
        .opt_level(3);
    for flag in &cflags {
        cc.flag(flag);
    }
    cc.compile("vxswitch_dpdk_shim");

    let mut bindings = bindgen::Builder::default()
        .header("src/dpdk/shim.h")
        .clang_arg("-DALLOW_EXPERIMENTAL_API")
        .allowlist_function(
            "vxs_.*|rte_eal_init|rte_eal_cleanup|rte_strerror|rte_socket_id|rte_thread_register\
             |rte_thread_unregister|rte_eth_dev_.*|rte_eth_rx_queue_setup|rte_eth_tx_queue_setup\
             |rte_eth_promiscuous_enable|rte_eth_macaddr_get|rte_eth_stats_get|rte_eth_stats_reset|rte_eth_link_get_nowait\
             |rte_eth_tx_done_cleanup|rte_pktmbuf_pool_create|rte_pktmbuf_free_bulk|rte_mempool_.*count\
             |rte_mempool_free|rte_version|rte_get_tsc_hz",
        )
        .allowlist_type("rte_mbuf|rte_eth_conf|rte_eth_dev_info|rte_eth_stats|rte_ether_addr")
        .allowlist_var("RTE_ETH_.*|RTE_MBUF_.*|RTE_PKTMBUF_HEADROOM|RTE_MAX_ETHPORTS")
        .opaque_type("rte_flow_.*|rte_l2tpv2_.*|rte_gtp_.*|rte_eth_dev_data|rte_eth_fp_ops")
        .derive_debug(false)
        .blocklist_type("max_align_t")
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for flag in &cflags {
        bindings = bindings.clang_arg(flag.as_str());
    }
    for path in &dpdk.include_paths {
        bindings = bindings.clang_arg(format!("-I{}", path.display()));
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("dpdk_sys.rs");
    bindings
        .generate()
        .expect("bindgen failed on the DPDK headers")
        .write_to_file(out)
        .expect("cannot write dpdk_sys.rs");
    println!("cargo:rerun-if-changed=src/dpdk/shim.c");
    println!("cargo:rerun-if-changed=src/dpdk/shim.h");

    // The agent <-> controller protocol, from its schema (protoc: apt-get install protobuf-compiler).
    prost_build::compile_protos(&["proto/vxswitch.proto"], &["proto"])
        .expect("protoc failed on proto/vxswitch.proto (apt-get install protobuf-compiler)");
    println!("cargo:rerun-if-changed=proto/vxswitch.proto");
}

/// The package's cflags exactly as pkg-config prints them, split on whitespace, keeping the
/// `-include rte_config.h` pair and `-march=` that the pkg-config crate would drop.
fn cflags_of(package: &str) -> Option<Vec<String>> {
    let output = std::process::Command::new("pkg-config")
        .args(["--cflags", package])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}
