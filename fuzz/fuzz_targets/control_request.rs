//! The host control socket's request parser on arbitrary lines: a clear error or a
//! request, and an accepted request reads back as itself once written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vxswitch::api::host::Request;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    match Request::from_line(line) {
        Ok(r) => {
            let again = serde_json::to_string(&r).expect("requests serialize");
            assert_eq!(Request::from_line(&again).as_ref(), Ok(&r), "{again}");
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
