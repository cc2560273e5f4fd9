//! A static file server for browser tests: GET only, one thread per connection, stopped when
//! dropped. `/models/…` maps to a models folder, everything else to the site folder.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct StaticServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl StaticServer {
    pub fn start(site: &Path, models: &Path) -> std::io::Result<StaticServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let (site, models, flag) = (site.to_path_buf(), models.to_path_buf(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(c) = conn {
                    let (site, models) = (site.clone(), models.clone());
                    std::thread::spawn(move || {
                        let _ = serve(c, &site, &models);
                    });
                }
            }
        });
        Ok(StaticServer { port, stop })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

fn resolve(url_path: &str, site: &Path, models: &Path) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next()?.trim_start_matches('/');
    if path.split('/').any(|s| s == ".." || s.starts_with('.')) {
        return None;
    }
    let p = match path.strip_prefix("models/") {
        Some(rest) => models.join(rest),
        None if path.is_empty() => site.join("index.html"),
        None => site.join(path),
    };
    p.is_file().then_some(p)
}

fn serve(mut c: TcpStream, site: &Path, models: &Path) -> std::io::Result<()> {
    let mut line = String::new();
    let mut reader = BufReader::new(c.try_clone()?);
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    match (method, resolve(target, site, models)) {
        ("GET", Some(p)) => {
            let body = std::fs::read(&p)?;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                content_type(&p),
                body.len()
            );
            c.write_all(head.as_bytes())?;
            c.write_all(&body)
        }
        _ => c.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}
