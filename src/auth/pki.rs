//! `vxswitch pki`: a small CA for a lab or a first deployment (rcgen). `init` makes the CA
//! and the REST API token; `issue` makes a node's key and certificate, naming the addresses
//! it may use: a hypervisor's VTEP IPs, a controller's agent-listener IPs. A production
//! deployment may use its own CA instead: the files are plain PEM.

use super::{private_file, ApiToken};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const API_TOKEN: &str = "api-token";

/// How long issued certificates are valid (the CA: ten times this).
const VALIDITY_DAYS: i64 = 397;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: exists: not overwriting it")]
    Exists(String),
    #[error("{0}")]
    Cert(String),
    #[error(transparent)]
    Auth(#[from] super::AuthError),
}

fn cert_err(e: rcgen::Error) -> PkiError {
    PkiError::Cert(e.to_string())
}

/// Writes a new file (never over an existing one); secrets get mode 0600.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), PkiError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => PkiError::Exists(path.display().to_string()),
            _ => PkiError::Io(path.display().to_string(), e),
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| PkiError::Io(path.display().to_string(), e))
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "vxswitch");
    dn.push(DnType::CommonName, cn);
    dn
}

fn validity(p: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(days);
}

/// Makes `dir` with a new CA (ca.pem, ca.key) and an API token (api-token).
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, PkiError> {
    std::fs::create_dir_all(dir).map_err(|e| PkiError::Io(dir.display().to_string(), e))?;
    let key = KeyPair::generate().map_err(cert_err)?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name("vxswitch CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut p, VALIDITY_DAYS * 10);
    let cert = p.self_signed(&key).map_err(cert_err)?;
    let paths = [dir.join(CA_KEY), dir.join(CA_CERT), dir.join(API_TOKEN)];
    write_new(&paths[0], &key.serialize_pem(), true)?;
    write_new(&paths[1], &cert.pem(), false)?;
    let token = ApiToken::generate();
    write_new(&paths[2], &format!("{}\n", token.secret()), true)?;
    Ok(paths.to_vec())
}

/// Issues `<name>.pem` and `<name>.key` in `dir`, signed by its CA, naming `ips` (and `name`
/// as a DNS name), good for both ends of a TLS session.
pub fn issue(dir: &Path, cn: &str, ips: &[IpAddr]) -> Result<Vec<PathBuf>, PkiError> {
    if cn.is_empty()
        || !cn
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(PkiError::Cert(format!(
            "name {cn:?}: letters, digits, '-', '_' and '.' only (it names the files too)"
        )));
    }
    if ips.is_empty() {
        return Err(PkiError::Cert(
            "at least one --ip: the addresses this node may use (a VTEP IP, a listener)".into(),
        ));
    }
    let ca_key_pem = String::from_utf8_lossy(&private_file(&dir.join(CA_KEY))?).into_owned();
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(cert_err)?;
    let ca_pem = std::fs::read_to_string(dir.join(CA_CERT))
        .map_err(|e| PkiError::Io(dir.join(CA_CERT).display().to_string(), e))?;
    let ca = CertificateParams::from_ca_cert_pem(&ca_pem)
        .and_then(|p| p.self_signed(&ca_key))
        .map_err(cert_err)?;
    let key = KeyPair::generate().map_err(cert_err)?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name(cn);
    p.subject_alt_names = ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
    if let Ok(dns) = cn.to_string().try_into() {
        p.subject_alt_names.push(SanType::DnsName(dns));
    }
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.use_authority_key_identifier_extension = true;
    validity(&mut p, VALIDITY_DAYS);
    let cert = p.signed_by(&key, &ca, &ca_key).map_err(cert_err)?;
    let paths = [dir.join(format!("{cn}.key")), dir.join(format!("{cn}.pem"))];
    write_new(&paths[0], &key.serialize_pem(), true)?;
    write_new(&paths[1], &cert.pem(), false)?;
    Ok(paths.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{client_config, server_config, PeerIdentity, TlsFiles};
    use std::net::Ipv4Addr;

    #[test]
    fn issued_certificates_load_and_name_their_addresses() {
        let dir = std::env::temp_dir().join(format!("vxs-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        init(&dir).unwrap();
        assert!(matches!(init(&dir), Err(PkiError::Exists(_))));
        let ip = |s: &str| IpAddr::V4(s.parse().unwrap());
        issue(&dir, "esxi01", &[ip("192.168.250.51")]).unwrap();
        issue(&dir, "controller-1", &[ip("127.0.0.1")]).unwrap();
        assert!(issue(&dir, "../x", &[ip("10.0.0.1")]).is_err());
        assert!(issue(&dir, "noip", &[]).is_err());
        let files = |n: &str| TlsFiles {
            ca: dir.join(CA_CERT),
            cert: dir.join(format!("{n}.pem")),
            key: dir.join(format!("{n}.key")),
        };
        server_config(&files("controller-1")).unwrap();
        client_config(&files("esxi01")).unwrap();
        let pem = std::fs::read(dir.join("esxi01.pem")).unwrap();
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
        let id = PeerIdentity::of(Some(&[der])).unwrap();
        assert!(id.speaks_for(Ipv4Addr::new(192, 168, 250, 51)));
        assert!(!id.speaks_for(Ipv4Addr::new(192, 168, 250, 52)));
        assert_eq!(id.name(), "esxi01");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
