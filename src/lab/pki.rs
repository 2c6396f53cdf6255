//! The labs' credentials: a CA, one certificate per controller (naming its management IP)
//! and per hypervisor (naming its VTEP IP), and the REST API token, made by `vxswitch pki`'s
//! own functions in the lab's folder, so that the labs run as a deployment should: mutual
//! TLS on every agent session and a token on every API call.

use super::sh::LabError;
use crate::auth::pki;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The lab's PKI folder.
pub struct LabPki {
    pub dir: PathBuf,
}

fn failed(e: pki::PkiError) -> LabError {
    LabError::Step(format!("pki: {e}"))
}

impl LabPki {
    /// The folder inside a lab's folder (not made yet).
    pub fn of(lab_dir: &Path) -> LabPki {
        LabPki {
            dir: lab_dir.join("pki"),
        }
    }

    /// Makes the CA and the token.
    pub fn create(lab_dir: &Path) -> Result<LabPki, LabError> {
        let p = LabPki::of(lab_dir);
        pki::init(&p.dir).map_err(failed)?;
        Ok(p)
    }

    /// A certificate for `name`, naming `ip`.
    pub fn issue(&self, name: &str, ip: &str) -> Result<(), LabError> {
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| LabError::Step(format!("pki: {ip} is not an address")))?;
        pki::issue(&self.dir, name, &[ip]).map_err(failed)?;
        Ok(())
    }

    fn tls_keys(&self, name: &str) -> String {
        let d = self.dir.display();
        format!(
            "tls_ca = \"{d}/{}\"\ntls_cert = \"{d}/{name}.pem\"\ntls_key = \"{d}/{name}.key\"\n",
            pki::CA_CERT
        )
    }

    /// The `[controller]` keys of controller `name`: its pair and the API token.
    pub fn controller_keys(&self, name: &str) -> String {
        format!(
            "{}api_token_file = \"{}\"\n",
            self.tls_keys(name),
            self.token_file().display()
        )
    }

    /// The `[agent]` keys of hypervisor `host`.
    pub fn agent_keys(&self, host: &str) -> String {
        self.tls_keys(host)
    }

    /// The file the CLI reads the API token from (`--token-file`).
    pub fn token_file(&self) -> PathBuf {
        self.dir.join(pki::API_TOKEN)
    }
}
