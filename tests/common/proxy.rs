//! Round trips, counted by a proxy that reads the client's messages: each
//! Sync (extended protocol) and each Query (simple protocol) is one round
//! trip; a Parse that names its statement is a prepared one.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use super::TestDb;

#[derive(Default, Debug, Clone)]
pub struct Seen {
    pub connections: usize,
    pub round_trips: usize,
    pub named_parses: usize,
    /// The start of each statement parsed or queried, for the failures' messages.
    pub statements: Vec<String>,
}

pub struct Proxy {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 to the test cluster's socket for `db`.
    pub fn to(db: &TestDb) -> Proxy {
        // postgres://USER@localhost:PORT/DB?host=DIR
        let rest = db.url.strip_prefix("postgres://").unwrap();
        let (_, rest) = rest.split_once('@').unwrap();
        let (port, rest) = rest
            .strip_prefix("localhost:")
            .unwrap()
            .split_once('/')
            .unwrap();
        let (_, dir) = rest.split_once("?host=").unwrap();
        let socket = format!("{dir}/.s.PGSQL.{port}");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            seen: seen.clone(),
        };
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = UnixStream::connect(&socket).unwrap();
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Both);
                });
                let seen = seen.clone();
                std::thread::spawn(move || forward(client, server, &seen));
            }
        });
        proxy
    }

    /// `db`'s URL through this proxy.
    pub fn url(&self, db: &TestDb) -> String {
        let user = db
            .url
            .strip_prefix("postgres://")
            .unwrap()
            .split('@')
            .next()
            .unwrap();
        format!(
            "postgres://{user}@127.0.0.1:{}/{}?sslmode=disable",
            self.port, db.name
        )
    }

    pub fn take(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Copy the client's messages to the server, counting them.
fn forward(mut client: TcpStream, mut server: UnixStream, seen: &Mutex<Seen>) {
    seen.lock().unwrap().connections += 1;
    let mut read = |n: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0; n];
        client.read_exact(&mut buf).ok().map(|_| buf)
    };
    // the start-up message has no type byte
    let Some(len) = read(4) else { return };
    let n = u32::from_be_bytes(len[..].try_into().unwrap()) as usize;
    let Some(body) = read(n - 4) else { return };
    if server.write_all(&len).and(server.write_all(&body)).is_err() {
        return;
    }
    loop {
        let Some(head) = read(5) else { return };
        let n = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let Some(body) = read(n - 4) else { return };
        {
            let mut s = seen.lock().unwrap();
            match head[0] {
                b'S' | b'Q' => s.round_trips += 1,
                b'P' if body.first() != Some(&0) => s.named_parses += 1,
                _ => {}
            }
            if matches!(head[0], b'P' | b'Q') {
                let text = String::from_utf8_lossy(&body);
                let text = text.trim_start_matches(|c: char| c != 'S' && c != 'W' && c != 'I');
                s.statements.push(text.chars().take(60).collect());
            }
        }
        if server
            .write_all(&head)
            .and(server.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}

impl Proxy {
    /// A login's URL (as `login grant` prints it, over the test cluster's
    /// socket) through this proxy: the same role and password.
    pub fn login_url(&self, db: &TestDb, login_url: &str) -> String {
        let rest = login_url.strip_prefix("postgres://").unwrap();
        let (auth, _) = rest.split_once('@').unwrap();
        format!(
            "postgres://{auth}@127.0.0.1:{}/{}?sslmode=disable",
            self.port, db.name
        )
    }
}
