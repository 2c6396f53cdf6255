//! Who may talk to vxswitch: mutual TLS on the agent channel (the host's certificate names
//! the VTEP IPs it may speak for), a bearer token on the REST API, and the `vxswitch pki`
//! helper that makes a lab CA, certificates and a token.
#![forbid(unsafe_code)]

pub mod pki;
mod tls;
mod token;

pub use tls::{client_config, server_config, PeerIdentity, TlsFiles};
pub use token::ApiToken;

/// A credential that could not be loaded: the file and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct AuthError {
    pub path: String,
    pub msg: String,
}

impl AuthError {
    fn at(path: &std::path::Path, msg: impl std::fmt::Display) -> AuthError {
        AuthError {
            path: path.display().to_string(),
            msg: msg.to_string(),
        }
    }
}

/// A secret file must be private: readable by its owner only (as ssh demands of its keys).
fn private_file(path: &std::path::Path) -> Result<Vec<u8>, AuthError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| AuthError::at(path, e))?;
    if meta.mode() & 0o077 != 0 {
        return Err(AuthError::at(
            path,
            format!(
                "mode {:o}: a secret must not be readable by group or others (chmod 600)",
                meta.mode() & 0o777
            ),
        ));
    }
    std::fs::read(path).map_err(|e| AuthError::at(path, e))
}
