//! The controller's TOML configuration.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    controller: RawController,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawController {
    id: Option<String>,
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_api")]
    api: String,
    state_dir: PathBuf,
}

fn default_listen() -> String {
    format!("0.0.0.0:{}", crate::proto::DEFAULT_PORT)
}
fn default_api() -> String {
    "0.0.0.0:8080".into()
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    /// How hosts and operators name this node (default: the agent listen address).
    pub id: String,
    /// Where agents connect (TCP 1234 by default).
    pub listen: SocketAddr,
    /// The management REST API.
    pub api: SocketAddr,
    /// Where the logical switches are kept across restarts.
    pub state_dir: PathBuf,
}

impl ControllerConfig {
    pub fn load(path: &Path) -> Result<ControllerConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        ControllerConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<ControllerConfig, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| e.to_string())?;
        let c = raw.controller;
        let addr = |key: &str, s: &str| -> Result<SocketAddr, String> {
            s.parse()
                .map_err(|_| format!("controller.{key}: {s:?} is not an address:port"))
        };
        let listen = addr("listen", &c.listen)?;
        Ok(ControllerConfig {
            id: c.id.unwrap_or_else(|| listen.ip().to_string()),
            listen,
            api: addr("api", &c.api)?,
            state_dir: c.state_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = ControllerConfig::parse("[controller]\nstate_dir = \"/tmp/x\"\n").unwrap();
        assert_eq!(c.listen.port(), 1234);
        assert_eq!(c.api.port(), 8080);
        let e = ControllerConfig::parse("[controller]\nstate_dir = \"/x\"\napi = \"nope\"\n")
            .unwrap_err();
        assert!(e.contains("controller.api"), "{e}");
        assert!(ControllerConfig::parse("[controller]\nstate_dir = \"/x\"\nport = 1\n").is_err());
    }

    #[test]
    fn shipped_config_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/controller.toml");
        ControllerConfig::load(&p).unwrap();
    }
}
