//! The client side of the control socket (blocking; the CLI has no async
//! runtime): connect, send one request, read response lines.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::protocol::{Request, Response};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("lvsd is not running (no control socket at {0})")]
    NotRunning(PathBuf),
    #[error("lvsd is not running (connection refused at {0})")]
    Refused(PathBuf),
    #[error("permission denied on {0}: the control socket is root-only unless lvsd was started with --control-group")]
    Denied(PathBuf),
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("control socket {path}: {message}")]
    Protocol { path: PathBuf, message: String },
}

pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        use std::io::ErrorKind;
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => ClientError::NotRunning(path.to_path_buf()),
            ErrorKind::ConnectionRefused => ClientError::Refused(path.to_path_buf()),
            ErrorKind::PermissionDenied => ClientError::Denied(path.to_path_buf()),
            _ => ClientError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let writer = stream.try_clone().map_err(|e| ClientError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn io(&self, source: std::io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Sends a request without waiting for the answer.
    pub fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        let mut line = serde_json::to_string(req).map_err(|e| ClientError::Protocol {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        let r = self.writer.write_all(line.as_bytes());
        r.map_err(|e| self.io(e))
    }

    /// The next response line; `None` when the daemon closed the stream.
    pub fn read_response(&mut self) -> Result<Option<Response>, ClientError> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).map_err(|e| self.io(e))?;
        if n == 0 {
            return Ok(None);
        }
        Response::parse(&line)
            .map(Some)
            .map_err(|message| ClientError::Protocol {
                path: self.path.clone(),
                message,
            })
    }

    /// Sends a request and reads its one response.
    pub fn request(&mut self, req: &Request) -> Result<Response, ClientError> {
        self.send(req)?;
        self.read_response()?.ok_or_else(|| ClientError::Protocol {
            path: self.path.clone(),
            message: "lvsd closed the connection without answering".into(),
        })
    }
}
