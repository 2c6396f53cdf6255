//! etcd calls with a deadline: a member cut off from its quorum does not fail a request, it
//! leaves it hanging, so every call here gives up after `OP_TIMEOUT` with an error that
//! says what was being done.

use etcd_client::{
    Client, ConnectOptions, GetOptions, GetResponse, WatchOptions, WatchStream, Watcher,
};
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

/// What `key` (with `prefix`: every key under it) holds now, and a watch of every change
/// after that read: a mirror that misses nothing between the two.
pub async fn read_and_watch(
    c: &mut Client,
    what: &str,
    key: String,
    prefix: bool,
) -> Result<(GetResponse, Watcher, WatchStream), String> {
    let get = prefix.then(|| GetOptions::new().with_prefix());
    let got = op(&format!("reading {what}"), c.get(key.clone(), get)).await?;
    let rev = got.header().map_or(0, |x| x.revision());
    let mut opts = WatchOptions::new().with_start_revision(rev + 1);
    if prefix {
        opts = opts.with_prefix();
    }
    let (w, events) = op(&format!("watching {what}"), c.watch(key, Some(opts))).await?;
    Ok((got, w, events))
}
