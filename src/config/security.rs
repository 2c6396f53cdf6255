//! The `tls_*` and `insecure` keys the controller and the agent share: mutual TLS from the
//! operator's PEM files, or plaintext only when the config says so.

use super::ConfigError;
use crate::auth::TlsFiles;
use std::path::PathBuf;

/// `<section>.tls_ca`, `tls_cert`, `tls_key` and `insecure`, as written.
pub(crate) struct RawTls<'a> {
    pub section: &'a str,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: bool,
}

/// The TLS files, all three or none; none only with `insecure = true`.
pub(crate) fn tls_files(r: RawTls<'_>) -> Result<Option<TlsFiles>, ConfigError> {
    let s = r.section;
    match (r.ca, r.cert, r.key) {
        (Some(ca), Some(cert), Some(key)) => Ok(Some(TlsFiles { ca, cert, key })),
        (None, None, None) if r.insecure => Ok(None),
        (None, None, None) => Err(ConfigError::invalid(
            format!("{s}.tls_ca"),
            "mutual TLS needs tls_ca, tls_cert and tls_key (`vxswitch pki` makes them); \
             `insecure = true` runs in plaintext without authentication (labs and tests only)",
        )),
        (ca, cert, _) => {
            let missing = if ca.is_none() {
                "tls_ca"
            } else if cert.is_none() {
                "tls_cert"
            } else {
                "tls_key"
            };
            Err(ConfigError::invalid(
                format!("{s}.{missing}"),
                "tls_ca, tls_cert and tls_key go together",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ca: bool, cert: bool, key: bool, insecure: bool) -> RawTls<'static> {
        let p = |b: bool, n: &str| b.then(|| PathBuf::from(n));
        RawTls {
            section: "agent",
            ca: p(ca, "ca.pem"),
            cert: p(cert, "h.pem"),
            key: p(key, "h.key"),
            insecure,
        }
    }

    #[test]
    fn all_three_or_an_explicit_insecure() {
        assert!(tls_files(raw(true, true, true, false)).unwrap().is_some());
        assert!(tls_files(raw(false, false, false, true)).unwrap().is_none());
        let e = tls_files(raw(false, false, false, false))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("agent.tls_ca:"), "{e}");
        let e = tls_files(raw(true, true, false, true))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("agent.tls_key:"), "{e}");
    }
}
