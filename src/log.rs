//! Progress lines: one per event on stderr, and the same to syslog
//! (`$ROOT/dev/log`, facility local7) when that socket exists. Logging can
//! never fail an action, so every syslog error is ignored.

use crate::root::Root;
use std::io::Write;
use std::os::unix::net::UnixDatagram;

const LOCAL7: u8 = 23;

#[derive(Clone, Copy)]
pub enum Level {
    Err = 3,
    Warning = 4,
    Info = 6,
}

pub struct Log {
    tag: String,
    syslog: Option<UnixDatagram>,
}

impl Log {
    /// `tag` is what syslog shows, e.g. `tiny-cloud/main`.
    pub fn new(root: &Root, tag: &str) -> Log {
        let socket = root.path("/dev/log");
        let syslog = socket.exists().then(|| {
            let s = UnixDatagram::unbound().ok()?;
            s.connect(&socket).ok()?;
            s.set_nonblocking(true).ok()?;
            Some(s)
        });
        Log {
            tag: tag.to_string(),
            syslog: syslog.flatten(),
        }
    }

    pub fn line(&self, level: Level, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
        if let Some(s) = &self.syslog {
            let pri = LOCAL7 * 8 + level as u8;
            let _ = s.send(format!("<{pri}>{}: {text}", self.tag).as_bytes());
        }
    }

    pub fn info(&self, text: &str) {
        self.line(Level::Info, text);
    }

    pub fn warn(&self, text: &str) {
        self.line(Level::Warning, text);
    }

    pub fn error(&self, text: &str) {
        self.line(Level::Err, text);
    }
}
