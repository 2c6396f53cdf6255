//! etcd calls with a deadline: a member cut off from its quorum does not fail a request, it
//! leaves it hanging, so every call here gives up after `OP_TIMEOUT` with an error that
//! says what was being done.

use etcd_client::{Client, ConnectOptions};
use std::future::Future;
use std::time::Duration;

/// The longest any single etcd request may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn op<T>(
    what: &str,
    f: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: etcd did not answer within {OP_TIMEOUT:?}")),
    }
}

/// A client of the configured members (requests go to whichever answers).
pub async fn connect(endpoints: &[String]) -> Result<Client, String> {
    let opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
        .with_keep_alive_while_idle(true);
    op(
        &format!("connecting to etcd {}", endpoints.join(",")),
        Client::connect(endpoints, Some(opts)),
    )
    .await
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
