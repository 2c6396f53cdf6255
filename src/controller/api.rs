//! The management REST API (JSON), with its OpenAPI document at `/openapi.json`. Bodies and
//! answers are the typed models of `api::rest`; every `/api/v1` request carries the bearer
//! token (unless the node runs insecure), a write must say `application/json`, and every
//! refusal names the field it is about. A refused request changes nothing.

use super::cluster::{self, Handle};
use super::sessions::{lock, Shared};
use super::state::{ApiError, Controller};
use super::switches::{self, InvalidField};
use crate::api::rest::{
    self, ArpTableRow, ClusterStatus, Hypervisor, LogicalSwitchView, MacTableRow, SliceRow,
    SwitchSpec, VtepTableRow,
};
use crate::auth::ApiToken;
use crate::ids::Vni;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

pub const OPENAPI: &str = include_str!("openapi.json");

/// What the handlers share: the node, in a cluster the etcd handle writes go through, and
/// the token requests must carry (None: an open API).
#[derive(Clone)]
pub struct App {
    pub node: Shared,
    pub cluster: Option<Handle>,
    pub token: Option<ApiToken>,
}

impl FromRef<App> for Shared {
    fn from_ref(a: &App) -> Shared {
        Arc::clone(&a.node)
    }
}

pub fn router(state: App) -> Router {
    let guarded = axum::middleware::from_fn_with_state(state.clone(), authenticated);
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/api/v1/control-cluster/status", get(cluster_status))
        .route("/api/v1/control-cluster/slices", get(cluster_slices))
        .route("/api/v1/hypervisors", get(hypervisors))
        .route("/api/v1/logical-switches", get(list).post(create))
        .route(
            "/api/v1/logical-switches/{vni}",
            get(read).put(update).delete(delete),
        )
        .route("/api/v1/logical-switches/{vni}/vtep-table", get(vtep_table))
        .route("/api/v1/logical-switches/{vni}/mac-table", get(mac_table))
        .route("/api/v1/logical-switches/{vni}/arp-table", get(arp_table))
        .route("/api/v1/refusals", get(refusals))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "path", "no such resource") })
        .layer(guarded)
        .with_state(state)
}

/// Every request but the OpenAPI document needs the bearer token; one without it is
/// refused (401) and counted before any handler runs.
async fn authenticated(
    State(app): State<App>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(token) = &app.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if req.uri().path() == "/openapi.json" || token.admits(given) {
        return next.run(req).await;
    }
    lock(&app.node).refusals.api_unauthenticated += 1;
    let mut r = fail(
        StatusCode::UNAUTHORIZED,
        "authorization",
        "this API needs the bearer token (vxswitch --token-file, or Authorization: Bearer ...)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

async fn refusals(State(s): State<Shared>) -> Json<rest::Refusals> {
    Json(lock(&s).refusals.clone())
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
            ApiError::Unavailable(e) => fail(StatusCode::SERVICE_UNAVAILABLE, "etcd", &e),
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

/// A switch as this node serves it; the counts only where it owns the VNI now.
fn view(c: &Controller, switch: rest::LogicalSwitch) -> LogicalSwitchView {
    let owned = c.owns(switch.vni);
    let vteps = c.tables.vteps(switch.vni).len();
    LogicalSwitchView {
        controller: c.known_owner_of(switch.vni).to_string(),
        connections: owned.then_some(vteps),
        vteps: owned.then_some(vteps),
        switch,
    }
}

/// In a cluster, a read about a VNI another member owns is answered by that member (its
/// answer passed on as it is); None: answer here.
async fn from_owner(app: &App, headers: &HeaderMap, vni: Vni, uri: &Uri) -> Option<Response> {
    let h = app.cluster.as_ref()?;
    if headers.contains_key(cluster::views::FORWARDED) {
        return None;
    }
    let owner = {
        let c = lock(&app.node);
        if c.owns(vni) || c.owner_of(vni).is_empty() {
            return None;
        }
        c.owner_of(vni).to_string()
    };
    let (status, body) = cluster::views::forward(h, &owner, uri.path(), app.token.as_ref()).await?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    Some((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn cluster_status(State(app): State<App>) -> Json<ClusterStatus> {
    Json(cluster::views::status(app.cluster.as_ref(), &app.node).await)
}

async fn cluster_slices(State(s): State<Shared>) -> Json<Vec<SliceRow>> {
    Json(cluster::views::slices(&s))
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
    State(app): State<App>,
    JsonBody(spec): JsonBody<SwitchSpec>,
) -> Result<(StatusCode, Json<LogicalSwitchView>), ApiError> {
    let ls = switches::apply(spec, None)?;
    if let Some(h) = &app.cluster {
        cluster::switches::create(h, &ls).await?;
        let mut c = lock(&app.node);
        c.switch_written(ls.clone());
        return Ok((StatusCode::CREATED, Json(view(&c, ls))));
    }
    let mut c = lock(&app.node);
    c.create(ls.clone())?;
    Ok((StatusCode::CREATED, Json(view(&c, ls))))
}

async fn read(
    State(app): State<App>,
    Path(vni): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let vni = vni_of(&vni)?;
    if let Some(r) = from_owner(&app, &headers, vni, &uri).await {
        return Ok(r);
    }
    let c = lock(&app.node);
    Ok(Json(view(&c, c.switch(vni)?)).into_response())
}

async fn update(
    State(app): State<App>,
    Path(vni): Path<String>,
    JsonBody(spec): JsonBody<SwitchSpec>,
) -> Result<Json<LogicalSwitchView>, ApiError> {
    let vni = vni_of(&vni)?;
    if let Some(h) = &app.cluster {
        let ls = cluster::switches::update(h, vni, spec).await?;
        let mut c = lock(&app.node);
        c.switch_written(ls.clone());
        return Ok(Json(view(&c, ls)));
    }
    let mut c = lock(&app.node);
    let ls = switches::apply(spec, Some(&c.switch(vni)?))?;
    c.update(ls.clone())?;
    Ok(Json(view(&c, ls)))
}

async fn delete(State(app): State<App>, Path(vni): Path<String>) -> Result<StatusCode, ApiError> {
    let vni = vni_of(&vni)?;
    let Some(h) = &app.cluster else {
        lock(&app.node).delete(vni)?;
        return Ok(StatusCode::NO_CONTENT);
    };
    lock(&app.node).check_unused(vni)?;
    cluster::switches::delete(h, vni).await?;
    lock(&app.node).switch_deleted(vni);
    Ok(StatusCode::NO_CONTENT)
}

/// A table read: the request's VNI, headers and path (for forwarding to the owner).
struct TableRead {
    app: App,
    vni: String,
    headers: HeaderMap,
    uri: Uri,
}

impl<S: Send + Sync> FromRequestParts<S> for TableRead
where
    App: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(vni) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(TableRead {
            app: App::from_ref(state),
            vni,
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
        })
    }
}

/// One of a configured VNI's tables, its rows built by `rows` (by the owner).
async fn vni_table<T: serde::Serialize>(
    t: TableRead,
    rows: impl Fn(&Controller, Vni) -> Vec<T>,
) -> Result<Response, ApiError> {
    let vni = vni_of(&t.vni)?;
    if let Some(r) = from_owner(&t.app, &t.headers, vni, &t.uri).await {
        return Ok(r);
    }
    let c = lock(&t.app.node);
    c.switch(vni)?;
    Ok(Json(rows(&c, vni)).into_response())
}

async fn vtep_table(t: TableRead) -> Result<Response, ApiError> {
    vni_table(t, |c, vni| {
        let proxies = c.tables.proxies(vni);
        c.tables
            .vteps(vni)
            .into_iter()
            .map(|v| VtepTableRow {
                vni,
                ip: v.ip,
                segment: v.segment(),
                mac: v.mac,
                proxy: proxies.contains(&v.ip),
                host: v.host,
            })
            .collect()
    })
    .await
}

async fn mac_table(t: TableRead) -> Result<Response, ApiError> {
    vni_table(t, |c, vni| {
        c.tables
            .macs(vni, Instant::now())
            .into_iter()
            .map(|m| MacTableRow {
                vni,
                mac: m.mac,
                vtep_ip: m.vtep,
                seq: m.seq,
                frozen: m.frozen,
            })
            .collect()
    })
    .await
}

async fn arp_table(t: TableRead) -> Result<Response, ApiError> {
    vni_table(t, |c, vni| {
        c.tables
            .arps(vni, Instant::now())
            .into_iter()
            .map(|(ip, mac, frozen)| ArpTableRow {
                vni,
                ip,
                mac,
                frozen,
            })
            .collect()
    })
    .await
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
                    connections: Some(1),
                    vteps: Some(1),
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
                    proxy: true,
                }),
            ),
            (
                "MacEntry",
                model_fields(MacTableRow {
                    vni,
                    mac,
                    vtep_ip: ip,
                    seq: 1,
                    frozen: false,
                }),
            ),
            (
                "ArpEntry",
                model_fields(ArpTableRow {
                    vni,
                    ip,
                    mac,
                    frozen: false,
                }),
            ),
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
                "ClusterStatus",
                model_fields(ClusterStatus {
                    controller: "c".into(),
                    mode: "cluster".into(),
                    majority: true,
                    leader: Some("c".into()),
                    members: vec![],
                    epoch: 1,
                    slices_here: 1,
                    error: Some("e".into()),
                }),
            ),
            (
                "ClusterMember",
                model_fields(rest::ClusterMember {
                    id: "c".into(),
                    agents: "a".into(),
                    api: "a".into(),
                    since: 1,
                    slices: 1,
                }),
            ),
            (
                "Slice",
                model_fields(SliceRow {
                    slice: 1,
                    controller: "c".into(),
                    vnis: vec![vni],
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
            "/api/v1/control-cluster/status",
            "/api/v1/control-cluster/slices",
            "/api/v1/hypervisors",
            "/api/v1/logical-switches",
            "/api/v1/logical-switches/{vni}",
            "/api/v1/logical-switches/{vni}/vtep-table",
            "/api/v1/logical-switches/{vni}/mac-table",
            "/api/v1/logical-switches/{vni}/arp-table",
            "/api/v1/refusals",
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
