//! The REST API's bearer token: a secret shared by the operators' CLI and the controllers
//! (which forward reads to each other with it), read from a private file.

use super::{private_file, AuthError};
use std::path::Path;

/// Shortest token accepted: 128 bits as hex.
const MIN_LEN: usize = 32;

#[derive(Clone)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

impl ApiToken {
    /// The token in `path` (mode 0600, one line, at least 32 printable characters).
    pub fn load(path: &Path) -> Result<ApiToken, AuthError> {
        let text = private_file(path)?;
        let t = String::from_utf8(text).map_err(|_| AuthError::at(path, "not UTF-8 text"))?;
        ApiToken::new(t.trim()).map_err(|m| AuthError::at(path, m))
    }

    pub fn new(t: &str) -> Result<ApiToken, String> {
        if t.len() < MIN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "a token is at least {MIN_LEN} printable characters without spaces"
            ));
        }
        Ok(ApiToken(t.to_string()))
    }

    /// A fresh random token (256 bits, hex).
    pub fn generate() -> ApiToken {
        let mut b = [0u8; 32];
        rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
            .expect("the kernel's random source");
        ApiToken(b.iter().map(|x| format!("{x:02x}")).collect())
    }

    /// The `Authorization` header value that carries it.
    pub fn header(&self) -> String {
        format!("Bearer {}", self.0)
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header carries this token (compared in constant time).
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let want = self.0.as_bytes();
        if given.len() != want.len() {
            return false;
        }
        given.iter().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_only_its_own_bearer_header() {
        let t = ApiToken::generate();
        assert_eq!(t.secret().len(), 64);
        assert!(t.admits(Some(t.header().as_bytes())));
        assert!(!t.admits(None));
        assert!(!t.admits(Some(t.secret().as_bytes())));
        assert!(!t.admits(Some(b"Bearer nope")));
        let other = ApiToken::generate();
        assert!(!t.admits(Some(other.header().as_bytes())));
        assert!(ApiToken::new("short").is_err());
        assert!(ApiToken::new(&"a b".repeat(20)).is_err());
    }

    #[test]
    fn a_token_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let p = std::env::temp_dir().join(format!("vxs-token-{}", std::process::id()));
        let t = ApiToken::generate();
        std::fs::write(&p, format!("{}\n", t.secret())).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ApiToken::load(&p).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(ApiToken::load(&p).unwrap().secret(), t.secret());
        std::fs::remove_file(&p).unwrap();
    }
}
