//! A `vxswitch dataplane` (or `controller`) process running inside a namespace: started
//! with its config, waited on until ready, stopped with SIGINT so it prints its counters.

use super::sh::LabError;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct DataplaneProcess {
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
    ready: &'static str,
}

impl DataplaneProcess {
    /// Writes `config` next to the log and starts `exe dataplane` in `ns`.
    pub fn start(
        exe: &Path,
        ns: &str,
        name: &str,
        dir: &Path,
        config: &str,
    ) -> Result<DataplaneProcess, LabError> {
        Self::start_as(exe, "dataplane", ns, name, dir, config)
    }

    /// Writes `config` next to the log and starts `exe <what>` in `ns`.
    pub fn start_as(
        exe: &Path,
        what: &str,
        ns: &str,
        name: &str,
        dir: &Path,
        config: &str,
    ) -> Result<DataplaneProcess, LabError> {
        let cfg_path = dir.join(format!("{name}.toml"));
        let log = dir.join(format!("{name}.log"));
        fs::write(&cfg_path, config)
            .map_err(|e| LabError::Step(format!("writing {}: {e}", cfg_path.display())))?;
        let out = fs::File::create(&log)
            .map_err(|e| LabError::Step(format!("creating {}: {e}", log.display())))?;
        let err = out.try_clone().map_err(|e| LabError::Step(e.to_string()))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(exe)
            .arg(what)
            .arg("--config")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| LabError::Step(format!("starting {}: {e}", exe.display())))?;
        Ok(DataplaneProcess {
            name: name.to_owned(),
            child: Some(child),
            log,
            ready: if what == "controller" {
                "vxswitch controller ready"
            } else {
                "vxswitch ready"
            },
        })
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the ready line ("vxswitch ready" or "vxswitch controller ready").
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), LabError> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.output().lines().any(|l| l.starts_with(self.ready)) {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(LabError::Step(format!(
                        "{} exited ({status}) before ready:\n{}",
                        self.name,
                        self.output()
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(LabError::Step(format!(
            "{} not ready after {timeout:?}:\n{}",
            self.name,
            self.output()
        )))
    }

    /// Kills the process at once (a crash, as far as its peers can tell).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process with SIGINT (its clean stop) and returns everything it printed.
    pub fn stop(&mut self) -> String {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let start = Instant::now();
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    _ if start.elapsed() > Duration::from_secs(10) => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        self.output()
    }
}

impl Drop for DataplaneProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
