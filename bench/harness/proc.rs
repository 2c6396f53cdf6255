//! A process the bench starts: output to a log file, optional commands on stdin, waited on
//! for a line that says it is ready, and always stopped (SIGINT, then SIGKILL) when dropped.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr in `log`; `interactive` keeps a pipe to its stdin.
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        log: &Path,
        interactive: bool,
    ) -> Result<Proc, String> {
        let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdout(out).stderr(err);
        cmd.stdin(if interactive {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().map_err(|e| format!("starting {name}: {e}"))?;
        let stdin = child.stdin.take();
        Ok(Proc {
            name: name.to_string(),
            child,
            stdin,
            log: log.to_path_buf(),
        })
    }

    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `marker` `times` times; fails if the process exits first.
    pub fn wait_for(
        &mut self,
        marker: &str,
        times: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        let until = Instant::now() + timeout;
        loop {
            if self.output().matches(marker).count() >= times {
                return Ok(());
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({st}) before {marker:?}:\n{}",
                    self.name,
                    tail(&self.output())
                ));
            }
            if Instant::now() > until {
                return Err(format!(
                    "{}: no {marker:?} after {timeout:?}:\n{}",
                    self.name,
                    tail(&self.output())
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one command line on stdin.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        let w = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{} has no stdin", self.name))?;
        writeln!(w, "{line}")
            .and_then(|()| w.flush())
            .map_err(|e| format!("{}: {e}", self.name))
    }

    /// Waits up to `timeout` for the process to exit by itself (after a "quit"); true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// SIGINT, then SIGKILL after `grace`; returns the log.
    pub fn stop(mut self, grace: Duration) -> String {
        self.terminate(grace);
        self.output()
    }

    fn terminate(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(3));
    }
}

/// The last lines of a log, for error messages.
pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
