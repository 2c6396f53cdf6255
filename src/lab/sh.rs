//! Running the lab's commands (`ip`, `ping`, ...) with their output kept for error messages.

use std::process::{Command, Output};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error("{0}")]
    Step(String),
    #[error(transparent)]
    Process(#[from] super::process::ProcessError),
    #[error(transparent)]
    Host(#[from] crate::api::HostError),
    #[error("interrupted")]
    Interrupted,
}

fn describe(args: &[&str]) -> String {
    args.join(" ")
}

/// Runs a command; an error carries its stderr.
pub fn run(args: &[&str]) -> Result<Output, LabError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| LabError::Command {
            cmd: describe(args),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd: describe(args),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out)
}

/// Runs a command inside network namespace `ns`.
pub fn in_ns(ns: &str, args: &[&str]) -> Result<Output, LabError> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    run(&all)
}

/// Runs a command inside `ns` and returns whether it succeeded, with its stdout.
pub fn try_in_ns(ns: &str, args: &[&str]) -> (bool, String) {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    match Command::new("ip").args(&all).output() {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        ),
        Err(e) => (false, e.to_string()),
    }
}

/// Moves the calling thread into network namespace `ns` (a thread that speaks to a lab's
/// daemons from inside, as a host would).
pub fn enter_netns(ns: &str) -> Result<(), LabError> {
    let path = format!("/var/run/netns/{ns}");
    let f = std::fs::File::open(&path).map_err(|e| LabError::Step(format!("{path}: {e}")))?;
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&f),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| LabError::Step(format!("entering {ns}: {e}")))
}

/// A veth pair: `a` in namespace `ns_a` (with address `mac` if given), `b` in `ns_b`, both
/// at `mtu`.
pub fn veth(
    (ns_a, a, mac): (&str, &str, Option<&str>),
    (ns_b, b): (&str, &str),
    mtu: u16,
) -> Result<(), LabError> {
    let m = mtu.to_string();
    let mut args = vec!["ip", "link", "add", a, "netns", ns_a, "mtu", &m];
    if let Some(mac) = mac {
        args.extend(["address", mac]);
    }
    args.extend(["type", "veth", "peer", "name", b, "netns", ns_b, "mtu", &m]);
    run(&args).map(|_| ())
}

/// Polls `f` every 100 ms until it holds; an error naming `what` after `timeout`.
pub fn wait_until(
    what: &str,
    timeout: std::time::Duration,
    mut f: impl FnMut() -> bool,
) -> Result<(), LabError> {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(LabError::Step(format!("timed out waiting for {what}")))
}

/// The network namespaces a lab created: removed, newest first, when dropped (also after an
/// error). Each starts with loopback up and no IPv6 chatter.
#[derive(Debug, Default)]
pub struct Namespaces(Vec<String>);

impl Namespaces {
    pub fn add(&mut self, ns: &str) -> Result<(), LabError> {
        let _ = run(&["ip", "netns", "del", ns]); // a leftover from a killed run
        run(&["ip", "netns", "add", ns])?;
        self.0.push(ns.to_owned());
        in_ns(ns, &["ip", "link", "set", "lo", "up"])?;
        // No IPv6 chatter (router solicitations, DAD) on the lab's links.
        in_ns(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])?;
        in_ns(
            ns,
            &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
        )?;
        Ok(())
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in self.0.iter().rev() {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}
