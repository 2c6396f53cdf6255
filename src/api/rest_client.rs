//! The client side of the REST API (the CLI's `show logical-switches ...` and `ls ...`).

use super::rest::{
    ApiError, ArpTableRow, ClusterStatus, Hypervisor, LogicalSwitchView, MacTableRow, Refusals,
    SliceRow, SwitchSpec, VtepTableRow, BASE,
};
use crate::ids::Vni;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The controller refused: HTTP status and its words.
    #[error("{status}: {}", .body.error)]
    Refused { status: u16, body: ApiError },
    #[error("{0}: {1}")]
    Transport(String, String),
    #[error("{0}: the answer is not what the API serves: {1}")]
    BadAnswer(String, std::io::Error),
}

/// A controller's REST API, e.g. `http://127.0.0.1:8080`.
#[derive(Clone, Debug)]
pub struct RestClient {
    base: String,
    /// The `Authorization` header every request carries.
    auth: Option<String>,
}

impl RestClient {
    pub fn new(controller: &str) -> RestClient {
        RestClient {
            base: format!("{}{BASE}", controller.trim_end_matches('/')),
            auth: None,
        }
    }

    /// Requests carry the API's bearer token.
    pub fn with_token(mut self, token: &crate::auth::ApiToken) -> RestClient {
        self.auth = Some(token.header());
        self
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Option<T>, RestError> {
        let url = format!("{}/{path}", self.base);
        let mut req = ureq::request(method, &url).timeout(TIMEOUT);
        if let Some(a) = &self.auth {
            req = req.set("Authorization", a);
        }
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match r {
            Ok(resp) if resp.status() == 204 => Ok(None),
            Ok(resp) => resp
                .into_json()
                .map(Some)
                .map_err(|e| RestError::BadAnswer(url, e)),
            Err(ureq::Error::Status(status, resp)) => {
                let body = resp.into_json().unwrap_or_else(|e| ApiError {
                    error: format!("request refused ({e})"),
                    field: String::new(),
                });
                Err(RestError::Refused { status, body })
            }
            Err(e) => Err(RestError::Transport(url, e.to_string())),
        }
    }

    /// A request whose answer has a body.
    fn fetch<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, RestError> {
        self.send(method, path, body)?.ok_or_else(|| {
            RestError::Transport(format!("{}/{path}", self.base), "empty answer".into())
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        self.fetch("GET", path, None::<&()>)
    }

    pub fn refusals(&self) -> Result<Refusals, RestError> {
        self.get("refusals")
    }

    pub fn switches(&self) -> Result<Vec<LogicalSwitchView>, RestError> {
        self.get("logical-switches")
    }
    pub fn switch(&self, vni: Vni) -> Result<LogicalSwitchView, RestError> {
        self.get(&format!("logical-switches/{vni}"))
    }
    pub fn vtep_table(&self, vni: Vni) -> Result<Vec<VtepTableRow>, RestError> {
        self.get(&format!("logical-switches/{vni}/vtep-table"))
    }
    pub fn mac_table(&self, vni: Vni) -> Result<Vec<MacTableRow>, RestError> {
        self.get(&format!("logical-switches/{vni}/mac-table"))
    }
    pub fn arp_table(&self, vni: Vni) -> Result<Vec<ArpTableRow>, RestError> {
        self.get(&format!("logical-switches/{vni}/arp-table"))
    }
    pub fn hypervisors(&self) -> Result<Vec<Hypervisor>, RestError> {
        self.get("hypervisors")
    }
    pub fn cluster_status(&self) -> Result<ClusterStatus, RestError> {
        self.get("control-cluster/status")
    }
    pub fn cluster_slices(&self) -> Result<Vec<SliceRow>, RestError> {
        self.get("control-cluster/slices")
    }

    /// Creates a logical switch (`spec.vni` required).
    pub fn create(&self, spec: &SwitchSpec) -> Result<LogicalSwitchView, RestError> {
        self.fetch("POST", "logical-switches", Some(spec))
    }
    /// Changes what `spec` sets of switch `vni`.
    pub fn update(&self, vni: Vni, spec: &SwitchSpec) -> Result<LogicalSwitchView, RestError> {
        self.fetch("PUT", &format!("logical-switches/{vni}"), Some(spec))
    }
    pub fn delete(&self, vni: Vni) -> Result<(), RestError> {
        self.send::<serde::de::IgnoredAny>(
            "DELETE",
            &format!("logical-switches/{vni}"),
            None::<&()>,
        )
        .map(|_| ())
    }
}
