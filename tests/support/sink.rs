//! A real SMTP server (tests/support/smtp_sink.py, Debian's aiosmtpd) on
//! 127.0.0.1 for the tests that need one to answer; stopped on drop.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Sink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Sink {
    pub fn start() -> Sink {
        let port = free_port();
        let dir = tempfile::tempdir().expect("sink dir");
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink (apt-get install python3-aiosmtpd)");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("sink ready");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Sink { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// How many messages it took.
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (free a moment ago).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("port").port()
}
