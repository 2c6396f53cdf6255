//! The one process runner of the lab, the bench and the tests: a child with its output in a
//! log file (kept for a look afterwards), waited on until its output says it is ready,
//! driven on its stdin if asked, signalled with a library call, and always stopped: SIGINT
//! (a clean stop that prints its report), then SIGKILL after a grace period, also on drop.

use rustix::process::{kill_process, Pid, Signal};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a dropped process gets to stop after SIGINT.
const DROP_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("starting {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    #[error("{name} exited ({status}) before {marker:?}:\n{tail}")]
    Exited {
        name: String,
        status: ExitStatus,
        marker: String,
        tail: String,
    },
    #[error("{name}: no {marker:?} after {timeout:?}:\n{tail}")]
    NotReady {
        name: String,
        marker: String,
        timeout: Duration,
        tail: String,
    },
    #[error("{name}: {source}")]
    Io {
        name: String,
        source: std::io::Error,
    },
}

/// How a process ended when it was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited by itself (before or after SIGINT).
    Exited(ExitStatus),
    /// It ignored SIGINT for the grace period and was killed.
    Killed,
}

impl Stopped {
    /// Exited by itself with status 0.
    pub fn cleanly(self) -> bool {
        matches!(self, Stopped::Exited(s) if s.success())
    }
}

pub struct Process {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
    stopped: Option<Stopped>,
}

impl Process {
    /// Starts `cmd` with stdout and stderr in `log` and no stdin.
    pub fn spawn(name: &str, cmd: Command, log: &Path) -> Result<Process, ProcessError> {
        Self::start(name, cmd, log, false)
    }

    /// Starts `cmd` with stdout and stderr in `log` and a pipe to its stdin (`send_line`).
    pub fn spawn_interactive(
        name: &str,
        cmd: Command,
        log: &Path,
    ) -> Result<Process, ProcessError> {
        Self::start(name, cmd, log, true)
    }

    fn start(
        name: &str,
        mut cmd: Command,
        log: &Path,
        interactive: bool,
    ) -> Result<Process, ProcessError> {
        let spawn_err = |source| ProcessError::Spawn {
            name: name.to_string(),
            source,
        };
        let out = fs::File::create(log).map_err(spawn_err)?;
        let err = out.try_clone().map_err(spawn_err)?;
        cmd.stdout(out).stderr(err);
        cmd.stdin(if interactive {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let stdin = child.stdin.take();
        Ok(Process {
            name: name.to_string(),
            child,
            stdin,
            log: log.to_path_buf(),
            stopped: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the output holds `marker` `times` times; fails if the process exits first.
    pub fn wait_for(
        &mut self,
        marker: &str,
        times: usize,
        timeout: Duration,
    ) -> Result<(), ProcessError> {
        let until = Instant::now() + timeout;
        loop {
            if self.output().matches(marker).count() >= times {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ProcessError::Exited {
                    name: self.name.clone(),
                    status,
                    marker: marker.to_string(),
                    tail: tail(&self.output()),
                });
            }
            if Instant::now() > until {
                return Err(ProcessError::NotReady {
                    name: self.name.clone(),
                    marker: marker.to_string(),
                    timeout,
                    tail: tail(&self.output()),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one line on the process's stdin (started with `spawn_interactive`).
    pub fn send_line(&mut self, line: &str) -> Result<(), ProcessError> {
        let io = |source| ProcessError::Io {
            name: self.name.clone(),
            source,
        };
        let w = self.stdin.as_mut().ok_or_else(|| {
            io(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "no stdin",
            ))
        })?;
        writeln!(w, "{line}").and_then(|()| w.flush()).map_err(io)
    }

    /// Sends `sig` to the process (nothing if it has exited).
    pub fn signal(&mut self, sig: Signal) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill_process(Pid::from_child(&self.child), sig);
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (its clean stop), then SIGKILL after `grace`. Stopping again is a no-op.
    pub fn stop(&mut self, grace: Duration) -> Stopped {
        if let Some(s) = self.stopped {
            return s;
        }
        self.signal(Signal::INT);
        let s = match self.wait_exit(grace) {
            Some(st) => Stopped::Exited(st),
            None => {
                self.kill();
                Stopped::Killed
            }
        };
        self.stopped = Some(s);
        s
    }

    /// Kills the process at once (a crash, as far as its peers can tell).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stopped.get_or_insert(Stopped::Killed);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(DROP_GRACE);
    }
}

/// The last lines of a log, for error messages.
pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("vxs-process-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn waits_for_the_ready_line_and_stops_with_sigint() {
        // perl, not sh: a shell cannot trap a signal ignored when it started (as SIGINT is
        // under a background job), perl can; perl-base is in every Debian.
        let mut c = Command::new("perl");
        c.args([
            "-e",
            r#"$| = 1; $SIG{INT} = sub { print "stopping\n"; exit 0 }; print "ready\n"; select(undef, undef, undef, 0.05) while 1;"#,
        ]);
        let mut p = Process::spawn("perl", c, &dir().join("trap.log")).unwrap();
        p.wait_for("ready", 1, Duration::from_secs(5)).unwrap();
        assert!(p.stop(Duration::from_secs(5)).cleanly());
        assert!(p.output().contains("stopping"));
    }

    #[test]
    fn an_exit_before_ready_and_a_deaf_process_are_reported() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo oops; exit 3"]);
        let mut p = Process::spawn("early", c, &dir().join("early.log")).unwrap();
        let e = p.wait_for("ready", 1, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, ProcessError::Exited { .. }), "{e}");
        let mut c = Command::new("sh");
        c.args(["-c", "trap '' INT; echo ready; exec sleep 30"]);
        let mut p = Process::spawn("deaf", c, &dir().join("deaf.log")).unwrap();
        p.wait_for("ready", 1, Duration::from_secs(5)).unwrap();
        assert_eq!(p.stop(Duration::from_millis(200)), Stopped::Killed);
    }
}
