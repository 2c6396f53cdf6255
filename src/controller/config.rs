//! The controller's TOML configuration.

use crate::config::{load_toml, parse_toml, ConfigError};
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
    listen: SocketAddr,
    #[serde(default = "default_api")]
    api: SocketAddr,
    state_dir: PathBuf,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], crate::proto::DEFAULT_PORT))
}
fn default_api() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8080))
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
    pub fn load(path: &Path) -> Result<ControllerConfig, ConfigError> {
        load_toml(path, ControllerConfig::parse)
    }

    pub fn parse(text: &str) -> Result<ControllerConfig, ConfigError> {
        let c = parse_toml::<Raw>(text)?.controller;
        Ok(ControllerConfig {
            id: c.id.unwrap_or_else(|| c.listen.ip().to_string()),
            listen: c.listen,
            api: c.api,
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
            .unwrap_err()
            .to_string();
        assert!(e.contains("controller.api"), "{e}");
        assert!(ControllerConfig::parse("[controller]\nstate_dir = \"/x\"\nport = 1\n").is_err());
    }

    #[test]
    fn shipped_config_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/controller.toml");
        ControllerConfig::load(&p).unwrap();
    }
}
