//! The config loaders on arbitrary text: the data plane's (a config it accepts must build
//! the first snapshot and the table manager, as `vxswitch run` does before touching EAL) and
//! the controller's. A clear error or a config, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vxswitch::config::Config;
use vxswitch::controller::ControllerConfig;
use vxswitch::testkit::HostRig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = Config::parse(text) {
        // Bounded so that a config asking for huge tables does not exhaust memory here.
        if cfg.mac_capacity <= 1 << 16 && cfg.arp_capacity <= 1 << 16 {
            let _rig = HostRig::new(text);
        }
    }
    let _ = ControllerConfig::parse(text);
});
