//! rustls configurations from the operator's PEM files. Both sides verify the other against
//! the one CA; the controller asks for a client certificate and keeps it as the session's
//! identity, so that a host can only speak for the VTEP addresses its certificate names.

use super::{private_file, AuthError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The CA that signs every certificate of the deployment, and this node's own.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    /// Mode 0600: refused otherwise.
    pub key: PathBuf,
}

struct Loaded {
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, AuthError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| AuthError::at(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AuthError::at(path, e))?;
    if certs.is_empty() {
        return Err(AuthError::at(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn load(f: &TlsFiles) -> Result<Loaded, AuthError> {
    let mut roots = RootCertStore::empty();
    for c in certs(&f.ca)? {
        roots.add(c).map_err(|e| AuthError::at(&f.ca, e))?;
    }
    let key_pem = private_file(&f.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| AuthError::at(&f.key, e))?;
    Ok(Loaded {
        roots: Arc::new(roots),
        chain: certs(&f.cert)?,
        key,
    })
}

/// The controller's side: TLS 1.3/1.2, a client certificate from the CA required.
pub fn server_config(f: &TlsFiles) -> Result<Arc<ServerConfig>, AuthError> {
    let l = load(f)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(l.roots, provider())
        .build()
        .map_err(|e| AuthError::at(&f.ca, e))?;
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| AuthError::at(&f.cert, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(l.chain, l.key)
        .map_err(|e| AuthError::at(&f.cert, e))?;
    Ok(Arc::new(cfg))
}

/// The host's side: the controller's certificate must come from the CA and name the address
/// the host dials; the host presents its own.
pub fn client_config(f: &TlsFiles) -> Result<Arc<ClientConfig>, AuthError> {
    let l = load(f)?;
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| AuthError::at(&f.cert, e))?
        .with_root_certificates(l.roots)
        .with_client_auth_cert(l.chain, l.key)
        .map_err(|e| AuthError::at(&f.cert, e))?;
    Ok(Arc::new(cfg))
}

/// A peer's verified certificate (the handshake checked it against the CA).
#[derive(Clone, Debug)]
pub struct PeerIdentity {
    cert: CertificateDer<'static>,
}

impl PeerIdentity {
    /// The end-entity certificate of a finished handshake; None if the peer sent none.
    pub fn of(chain: Option<&[CertificateDer<'_>]>) -> Option<PeerIdentity> {
        let cert = chain?.first()?.clone().into_owned();
        Some(PeerIdentity { cert })
    }

    /// Whether the certificate names `ip` (an IP subject alternative name).
    pub fn speaks_for(&self, ip: Ipv4Addr) -> bool {
        let Ok(ee) = webpki::EndEntityCert::try_from(&self.cert) else {
            return false;
        };
        let name = ServerName::IpAddress(IpAddr::V4(ip).into());
        ee.verify_is_valid_for_subject_name(&name).is_ok()
    }

    /// The certificate's subject common name, for logs and views.
    pub fn name(&self) -> String {
        rcgen::CertificateParams::from_ca_cert_der(&self.cert)
            .ok()
            .and_then(|p| {
                p.distinguished_name
                    .get(&rcgen::DnType::CommonName)
                    .and_then(dn_text)
            })
            .unwrap_or_default()
    }
}

fn dn_text(v: &rcgen::DnValue) -> Option<String> {
    match v {
        rcgen::DnValue::Utf8String(s) => Some(s.clone()),
        rcgen::DnValue::PrintableString(s) => Some(s.as_str().to_string()),
        rcgen::DnValue::Ia5String(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}
