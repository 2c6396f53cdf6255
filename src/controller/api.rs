//! The management REST API (JSON), with its OpenAPI document at `/openapi.json`.
//! Bodies are parsed by hand so that every refusal names the field; a refused request
//! changes nothing.

use super::sessions::{lock, Shared};
use super::state::{ApiError, Controller};
use super::switches::{self, LogicalSwitch};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
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
    (status, Json(json!({"error": msg, "field": field}))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound(m) => fail(StatusCode::NOT_FOUND, "vni", &m),
            ApiError::Conflict(m) => fail(StatusCode::CONFLICT, "vni", &m),
            ApiError::Invalid(f) => fail(StatusCode::BAD_REQUEST, &f.field, &format!("{f}")),
            ApiError::Store(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, "store", &e.to_string()),
        }
    }
}

fn vni_of(s: &str) -> Result<u32, ApiError> {
    s.parse::<u32>()
        .ok()
        .filter(|v| (1..=crate::tables::VNI_MAX).contains(v))
        .ok_or_else(|| {
            ApiError::Invalid(switches::InvalidField {
                field: "vni".into(),
                msg: format!("{s:?} is not a VNI (1-{})", crate::tables::VNI_MAX),
            })
        })
}

fn body_json(b: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(b).map_err(|e| {
        ApiError::Invalid(switches::InvalidField {
            field: "body".into(),
            msg: format!("not JSON: {e}"),
        })
    })
}

fn ls_json(ls: &LogicalSwitch, owner: &str) -> Value {
    let mut v = serde_json::to_value(ls).unwrap_or(Value::Null);
    v["controller"] = json!(owner);
    v
}

async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

async fn cluster(State(s): State<Shared>) -> Json<Value> {
    let c = lock(&s);
    Json(json!({"controller": c.id, "slices": c.slice_owner}))
}

async fn hypervisors(State(s): State<Shared>) -> Json<Value> {
    let c = lock(&s);
    let list: Vec<Value> = c
        .sessions
        .iter()
        .map(|(id, h)| {
            json!({
                "session": id,
                "host": h.host,
                "address": h.peer.to_string(),
                "vtep_ip": h.vtep.ip.to_string(),
                "vtep_mac": h.vtep.mac.to_string(),
                "connected_since": h.since.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                "synced": h.synced,
                "vnis": c.tables.joined_by(*id),
            })
        })
        .collect();
    Json(Value::Array(list))
}

async fn list(State(s): State<Shared>) -> Json<Value> {
    let c = lock(&s);
    Json(Value::Array(
        c.switches()
            .iter()
            .map(|ls| ls_json(ls, c.owner_of(ls.vni)))
            .collect(),
    ))
}

async fn create(State(s): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let ls = switches::from_json(&body_json(&body)?, None)?;
    let mut c = lock(&s);
    c.create(ls.clone())?;
    Ok((StatusCode::CREATED, Json(ls_json(&ls, c.owner_of(ls.vni)))).into_response())
}

async fn read(State(s): State<Shared>, Path(vni): Path<String>) -> Result<Json<Value>, ApiError> {
    let vni = vni_of(&vni)?;
    let c = lock(&s);
    Ok(Json(ls_json(&c.switch(vni)?, c.owner_of(vni))))
}

async fn update(
    State(s): State<Shared>,
    Path(vni): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let vni = vni_of(&vni)?;
    let body = body_json(&body)?;
    let mut c = lock(&s);
    let ls = switches::from_json(&body, Some(&c.switch(vni)?))?;
    c.update(ls.clone())?;
    Ok(Json(ls_json(&ls, c.owner_of(vni))))
}

async fn delete(State(s): State<Shared>, Path(vni): Path<String>) -> Result<StatusCode, ApiError> {
    let vni = vni_of(&vni)?;
    lock(&s).delete(vni)?;
    Ok(StatusCode::NO_CONTENT)
}

/// One of a configured VNI's tables, each row built by `row`.
fn vni_table(
    s: &Shared,
    vni: &str,
    rows: impl Fn(&Controller, u32) -> Vec<Value>,
) -> Result<Json<Value>, ApiError> {
    let vni = vni_of(vni)?;
    let c = lock(s);
    c.switch(vni)?;
    Ok(Json(Value::Array(rows(&c, vni))))
}

async fn vtep_table(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<Value>, ApiError> {
    vni_table(&s, &vni, |c, vni| {
        c.tables
            .vteps(vni)
            .iter()
            .map(|v| {
                json!({"vni": vni, "ip": v.ip.to_string(), "segment": v.segment().to_string(),
                       "mac": v.mac.to_string(), "host": v.host})
            })
            .collect()
    })
}

async fn mac_table(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<Value>, ApiError> {
    vni_table(&s, &vni, |c, vni| {
        c.tables
            .macs(vni)
            .iter()
            .map(|(m, v)| json!({"vni": vni, "mac": m.to_string(), "vtep_ip": v.to_string()}))
            .collect()
    })
}

async fn arp_table(
    State(s): State<Shared>,
    Path(vni): Path<String>,
) -> Result<Json<Value>, ApiError> {
    vni_table(&s, &vni, |c, vni| {
        c.tables
            .arps(vni)
            .iter()
            .map(|(i, m)| json!({"vni": vni, "ip": i.to_string(), "mac": m.to_string()}))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves is in the OpenAPI document, and the reverse.
    #[test]
    fn openapi_lists_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
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
