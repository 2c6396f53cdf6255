//! The client side of the host API: one request per connection to a data plane's control
//! socket, the answer read back as typed rows.

use super::host::{Answer, Request, Response};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// How long an answer may take (a ping of 100 echoes, a 1M-entry MAC edit).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}: {1} (is `vxswitch dataplane` running with this control socket?)")]
    Connect(String, std::io::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: the answer is not a host API answer: {1}")]
    BadAnswer(String, serde_json::Error),
    /// The host refused the request; its words.
    #[error("{0}")]
    Refused(String),
    #[error("{0}: the host answered another kind of request ({1:?})")]
    WrongAnswer(String, Box<Response>),
}

/// A data plane's control socket.
#[derive(Clone, Debug)]
pub struct HostClient {
    socket: PathBuf,
}

impl HostClient {
    pub fn new(socket: impl Into<PathBuf>) -> HostClient {
        HostClient {
            socket: socket.into(),
        }
    }

    /// Sends `req` and returns the host's answer.
    pub fn call(&self, req: &Request) -> Result<Response, HostError> {
        let at = self.socket.display().to_string();
        let mut s =
            UnixStream::connect(&self.socket).map_err(|e| HostError::Connect(at.clone(), e))?;
        let io = |e| HostError::Io(at.clone(), e);
        s.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(io)?;
        let mut line = serde_json::to_string(req).expect("requests serialize");
        line.push('\n');
        s.write_all(line.as_bytes()).map_err(io)?;
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).map_err(io)?;
        match serde_json::from_str(&answer).map_err(|e| HostError::BadAnswer(at.clone(), e))? {
            Answer::Ok(r) => Ok(r),
            Answer::Error(e) => Err(HostError::Refused(e)),
        }
    }

    /// Sends a streamed request (`Request::Capture`) and hands each answer line to `each`
    /// until it returns false or the host closes the stream.
    pub fn stream(
        &self,
        req: &Request,
        mut each: impl FnMut(Response) -> Result<bool, HostError>,
    ) -> Result<(), HostError> {
        let at = self.socket.display().to_string();
        let mut s =
            UnixStream::connect(&self.socket).map_err(|e| HostError::Connect(at.clone(), e))?;
        let io = |e| HostError::Io(at.clone(), e);
        s.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(io)?;
        let mut line = serde_json::to_string(req).expect("requests serialize");
        line.push('\n');
        s.write_all(line.as_bytes()).map_err(io)?;
        let mut rd = BufReader::new(s);
        loop {
            let mut answer = String::new();
            if rd.read_line(&mut answer).map_err(io)? == 0 {
                return Ok(());
            }
            let r = match serde_json::from_str(&answer)
                .map_err(|e| HostError::BadAnswer(at.clone(), e))?
            {
                Answer::Ok(r) => r,
                Answer::Error(e) => return Err(HostError::Refused(e)),
            };
            if !each(r)? {
                return Ok(());
            }
        }
    }

    /// Sends `req` and returns the one kind of answer it has: `get::<Stats>(Request::Stats)`.
    pub fn get<T: TryFrom<Response, Error = Response>>(
        &self,
        req: Request,
    ) -> Result<T, HostError> {
        T::try_from(self.call(&req)?).map_err(|other| {
            HostError::WrongAnswer(self.socket.display().to_string(), Box::new(other))
        })
    }
}
