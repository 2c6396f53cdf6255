//! The management REST API (JSON), with its OpenAPI document at `/openapi.json`. Bodies and
//! answers are the typed models of `api::rest`; a write must say `application/json`, and
//! every refusal names the field it is about. A refused request changes nothing.

use super::sessions::{lock, Shared};
use super::state::{ApiError, Controller};
use super::switches::{self, InvalidField};
use crate::api::rest::{
    self, ArpTableRow, Cluster, Hypervisor, LogicalSwitchView, MacTableRow, SwitchSpec,
    VtepTableRow,
};
use crate::ids::Vni;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::time::UNIX_EPOCH;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/hypervisors", get(hypervisors))
        .route("/api/v1/logical-switches", get(list).post(create))
        .route(
            "/api/v1/logical-switches/{vni}",
            get(read).put(update).delete(delete),
        )
        .route("/api/v1/logical-switches/{vni}/vtep-table", get(vtep_table))
        .route("/api/v1/logical-switches/{vni}/mac-table", get(mac_table))
        .route("/api/v1/logical-switches/{vni}/arp-table", get(arp_table))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "path", "no such resource") })
        .with_state(state)
}

fn fail(status: StatusCode, field: &str, msg: &str) -> Response {
    let body = rest::ApiError {
        error: msg.to_string(),
        field: field.to_string(),
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound(m) => fail(StatusCode::NOT_FOUND, "vni", &m),
            ApiError::Conflict(m) => fail(StatusCode::CONFLICT, "vni", &m),
            ApiError::Invalid(f) => fail(StatusCode::BAD_REQUEST, &f.field, &f.to_string()),
            ApiError::NotJson => fail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type",
                "a write needs a JSON body (Content-Type: application/json)",
            ),
            ApiError::Store(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, "store", &e.to_string()),
        }
    }
}

/// A write's body: `application/json` required (a browser's cross-site form or text/plain
/// post is refused), parsed into `T` with the failing field named.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::NotJson);
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::Invalid(InvalidField {
                field: "body".into(),
                msg: e.body_text(),
            })
        })?;
        switches::parse_body(&body)
            .map(JsonBody)
            .map_err(ApiError::Invalid)
    }
}

fn vni_of(s: &str) -> Result<Vni, ApiError> {
    s.parse::<Vni>().map_err(|e| {
        ApiError::Invalid(InvalidField {
            field: "vni".into(),
            msg: e.to_string(),
        })
    })
}

fn view(c: &Controller, switch: rest::LogicalSwitch) -> LogicalSwitchView {
    LogicalSwitchView {
        controller: c.owner_of(switch.vni).to_string(),
        switch,
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn cluster(State(s): State<Shared>) -> Json<Cluster> {
    let c = lock(&s);
    Json(Cluster {
        controller: c.id.clone(),
        slices: c.slice_owner.clone(),
    })
}

async fn hypervisors(State(s): State<Shared>) -> Json<Vec<Hypervisor>> {
    let c = lock(&s);
    Json(
        c.sessions
            .iter()
            .map(|(id, h)| Hypervisor {
                session: *id,
                host: h.host.clone(),
                address: h.peer,
                vtep_ip: h.vtep.ip,
                vtep_mac: h.vtep.mac,
                connected_since: h
                    .since
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                synced: h.synced,
                vnis: c.tables.joined_by(*id),
            })
            .collect(),
    )
}

async fn list(State(s): State<Shared>) -> Json<Vec<LogicalSwitchView>> {
    let c = lock(&s);
    Json(c.switches().into_iter().map(|ls| view(&c, ls)).collect())
}

async fn create(
    State(s): State<Shared>,
    JsonBody(spec): JsonBody<SwitchSpec>,
) -> Result<(StatusCode, Json<LogicalSwitchView>), ApiError> {
    let ls = switches::apply(spec, None)?;
    let mut c = lock(&s);
    c.create(ls.clone())?;
    Ok((StatusCode::CREATED, Json(view(&c, ls))))
}

async fn read(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<LogicalSwitchView>, ApiError> {
    let vni = vni_of(&vni)?;
    let c = lock(&s);
    Ok(Json(view(&c, c.switch(vni)?)))
}

async fn update(
    State(s): State<Shared>,
    Path(vni): Path<String>,
    JsonBody(spec): JsonBody<SwitchSpec>,
) -> Result<Json<LogicalSwitchView>, ApiError> {
    let vni = vni_of(&vni)?;
    let mut c = lock(&s);
    let ls = switches::apply(spec, Some(&c.switch(vni)?))?;
    c.update(ls.clone())?;
    Ok(Json(view(&c, ls)))
}

async fn delete(State(s): State<Shared>, Path(vni): Path<String>) -> Result<StatusCode, ApiError> {
    let vni = vni_of(&vni)?;
    lock(&s).delete(vni)?;
    Ok(StatusCode::NO_CONTENT)
}

/// One of a configured VNI's tables, its rows built by `rows`.
fn vni_table<T>(
    s: &Shared,
    vni: &str,
    rows: impl Fn(&Controller, Vni) -> Vec<T>,
) -> Result<Json<Vec<T>>, ApiError> {
    let vni = vni_of(vni)?;
    let c = lock(s);
    c.switch(vni)?;
    Ok(Json(rows(&c, vni)))
}

async fn vtep_table(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<Vec<VtepTableRow>>, ApiError> {
    vni_table(&s, &vni, |c, vni| {
        c.tables
            .vteps(vni)
            .into_iter()
            .map(|v| VtepTableRow {
                vni,
                ip: v.ip,
                segment: v.segment(),
                mac: v.mac,
                host: v.host,
            })
            .collect()
    })
}

async fn mac_table(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<Vec<MacTableRow>>, ApiError> {
    vni_table(&s, &vni, |c, vni| {
        c.tables
            .macs(vni)
            .into_iter()
            .map(|(mac, vtep_ip)| MacTableRow { vni, mac, vtep_ip })
            .collect()
    })
}

async fn arp_table(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<Vec<ArpTableRow>>, ApiError> {
    vni_table(&s, &vni, |c, vni| {
        c.tables
            .arps(vni)
            .into_iter()
            .map(|(ip, mac)| ArpTableRow { vni, ip, mac })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::rest::{ApiError as Refusal, LogicalSwitch};
    use crate::ids::ReplicationMode;
    use serde::Serialize;
    use std::net::Ipv4Addr;

    /// The property names of schema `name` in the OpenAPI document.
    fn schema_fields(doc: &serde_json::Value, name: &str) -> Vec<String> {
        let mut f: Vec<String> = doc["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {name}"))
            .keys()
            .cloned()
            .collect();
        f.sort();
        f
    }

    /// The fields a model serializes to (with every optional field present).
    fn model_fields(v: impl Serialize) -> Vec<String> {
        let mut f: Vec<String> = serde_json::to_value(v)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        f.sort();
        f
    }

    /// Every schema of the document is the typed model the API serves or takes.
    #[test]
    fn openapi_schemas_are_the_models() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let vni = Vni::from_const(5001);
        let (ip, mac) = (Ipv4Addr::new(10, 0, 0, 1), crate::wire::MacAddr([2; 6]));
        let switch = LogicalSwitch {
            vni,
            name: "web".into(),
            replication_mode: ReplicationMode::Hybrid,
            arp_suppression: true,
            multicast_group: Some(Ipv4Addr::new(239, 1, 1, 1)),
        };
        let spec = SwitchSpec {
            vni: Some(vni),
            name: Some("web".into()),
            replication_mode: Some(ReplicationMode::Unicast),
            arp_suppression: Some(true),
            multicast_group: Some(None),
        };
        let cases = [
            (
                "LogicalSwitch",
                model_fields(LogicalSwitchView {
                    switch,
                    controller: "c".into(),
                }),
            ),
            ("LogicalSwitchInput", model_fields(spec)),
            (
                "VtepEntry",
                model_fields(VtepTableRow {
                    vni,
                    ip,
                    segment: ip,
                    mac,
                    host: "h".into(),
                }),
            ),
            (
                "MacEntry",
                model_fields(MacTableRow {
                    vni,
                    mac,
                    vtep_ip: ip,
                }),
            ),
            ("ArpEntry", model_fields(ArpTableRow { vni, ip, mac })),
            (
                "Hypervisor",
                model_fields(Hypervisor {
                    session: 1,
                    host: "h".into(),
                    address: "10.0.0.1:5000".parse().unwrap(),
                    vtep_ip: ip,
                    vtep_mac: mac,
                    connected_since: 0,
                    synced: true,
                    vnis: vec![vni],
                }),
            ),
            (
                "Cluster",
                model_fields(Cluster {
                    controller: "c".into(),
                    slices: vec![],
                }),
            ),
            (
                "Error",
                model_fields(Refusal {
                    error: "e".into(),
                    field: "f".into(),
                }),
            ),
        ];
        for (name, fields) in cases {
            assert_eq!(schema_fields(&doc, name), fields, "schema {name}");
        }
    }

    /// Every route the router serves is in the OpenAPI document, and the reverse.
    #[test]
    fn openapi_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        let served = [
            "/api/v1/cluster",
            "/api/v1/hypervisors",
            "/api/v1/logical-switches",
            "/api/v1/logical-switches/{vni}",
            "/api/v1/logical-switches/{vni}/vtep-table",
            "/api/v1/logical-switches/{vni}/mac-table",
            "/api/v1/logical-switches/{vni}/arp-table",
        ];
        assert_eq!(paths.len(), served.len());
        for p in served {
            assert!(
                doc["paths"].get(p).is_some(),
                "{p} missing from openapi.json"
            );
        }
        let src = include_str!("api.rs");
        for p in &paths {
            assert!(
                src.contains(&format!("\"{p}\"")),
                "{p} documented but not routed"
            );
        }
    }
}
