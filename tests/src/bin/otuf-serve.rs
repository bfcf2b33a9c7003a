//! Serves a folder over HTTP on 127.0.0.1 for benchmarks and manual tests, printing one line per
//! request: `<path> <bytes sent>`.
//!
//! usage: otuf-serve DIR [PORT]    (PORT 0 or absent: a free port; the first line says which)

use otuf_tests::server::Server;
use std::io::Write;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: otuf-serve DIR [PORT]");
        std::process::exit(1);
    };
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let server = Server::start_on(PathBuf::from(dir), port);
    println!("serving {}", server.base);
    let _ = std::io::stdout().flush();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut out = std::io::stdout().lock();
        for (path, bytes) in server.take_sent() {
            let _ = writeln!(out, "{path} {bytes}");
        }
        let _ = out.flush();
    }
}
