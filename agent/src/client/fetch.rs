//! Bounded HTTP: never more bytes than a file may have, and never waiting forever. A server
//! that stalls, or trickles bytes below a minimum speed, is abandoned (slow-retrieval attack).

use crate::error::{Error, Result};
use futures_util::StreamExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Transfer limits.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Longest wait for a connection and for the response headers.
    pub connect_timeout: Duration,
    /// Longest wait for the next chunk of a body.
    pub stall_timeout: Duration,
    /// Lowest average speed accepted once `grace` has passed, in bytes per second.
    pub min_speed: u64,
    /// How long a transfer may run before the average speed is checked.
    pub grace: Duration,
    /// Bandwidth cap in bytes per second (`None`: none): a transfer ahead of it pauses.
    pub max_bytes_per_sec: Option<u64>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(10),
            min_speed: 1024,
            grace: Duration::from_secs(5),
            max_bytes_per_sec: None,
        }
    }
}

/// What a resumed transfer hands its caller.
pub enum Received<'a> {
    /// The server sends the whole file after all: start over.
    Restart,
    /// The next bytes.
    Chunk(&'a [u8]),
}

/// An HTTP client with those limits.
pub struct Fetcher {
    http: reqwest::Client,
    config: FetchConfig,
}

impl Fetcher {
    /// A fetcher (no proxy: devices talk to their repository or mirror directly).
    pub fn new(config: FetchConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::Transfer {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(Self { http, config })
    }

    /// The body of `url`, at most `max` bytes; `None` when the server has no such file
    /// (404 or 403, as TUF clients treat a missing next root).
    pub async fn get(&self, url: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let mut body = Vec::new();
        let found = self.stream(url, max, |chunk| {
            body.extend_from_slice(chunk);
            Ok(())
        });
        Ok(found.await?.map(|_| body))
    }

    /// Streams the body of `url` into `on_chunk`, at most `max` bytes; the byte count, or
    /// `None` for 404/403.
    pub async fn stream(
        &self,
        url: &str,
        max: u64,
        mut on_chunk: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<Option<u64>> {
        let on = |event: Received<'_>| match event {
            Received::Chunk(c) => on_chunk(c),
            Received::Restart => Ok(()),
        };
        Ok(self.stream_from(url, 0, max, on).await?.map(|(n, _)| n))
    }

    /// [`stream`](Self::stream) from byte `offset` of a file of at most `max` bytes (an HTTP
    /// `Range` request when `offset` is not 0): the bytes received and whether the server
    /// resumed. A server that sends the whole file instead is announced by
    /// [`Received::Restart`] first, so the caller starts over.
    pub async fn stream_from(
        &self,
        url: &str,
        offset: u64,
        max: u64,
        mut on: impl FnMut(Received<'_>) -> Result<()>,
    ) -> Result<Option<(u64, bool)>> {
        if let Some(path) = url.strip_prefix("file://") {
            return read_local(&percent_decoded(path), offset, max, on);
        }
        let transfer = |e: reqwest::Error| Error::Transfer {
            url: url.to_string(),
            message: e.to_string(),
        };
        let slow = |why: String| Error::TooSlow {
            url: url.to_string(),
            why,
        };
        let start = Instant::now();
        let mut request = self.http.get(url);
        if offset > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={offset}-"));
        }
        let response = tokio::time::timeout(self.config.connect_timeout, request.send())
            .await
            .map_err(|_| {
                slow(format!(
                    "no response within {:?}",
                    self.config.connect_timeout
                ))
            })?
            .map_err(transfer)?;
        let status = response.status().as_u16();
        if status == 404 || status == 403 {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(Error::Http {
                url: url.to_string(),
                status,
            });
        }
        let resumed = offset > 0 && status == 206;
        let max = if resumed {
            max.saturating_sub(offset)
        } else {
            if offset > 0 {
                on(Received::Restart)?;
            }
            max
        };
        if response.content_length().is_some_and(|n| n > max) {
            return Err(Error::TooLarge {
                url: url.to_string(),
                max,
            });
        }
        let mut stream = response.bytes_stream();
        let mut total = 0u64;
        loop {
            let next = tokio::time::timeout(self.config.stall_timeout, stream.next())
                .await
                .map_err(|_| slow(format!("no data for {:?}", self.config.stall_timeout)))?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(transfer)?;
            total += chunk.len() as u64;
            if total > max {
                return Err(Error::TooLarge {
                    url: url.to_string(),
                    max,
                });
            }
            on(Received::Chunk(&chunk))?;
            // Under a cap, a transfer ahead of it waits until its average is back at the cap.
            if let Some(cap) = self.config.max_bytes_per_sec.filter(|c| *c > 0) {
                let due = Duration::from_secs_f64(total as f64 / cap as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            let elapsed = start.elapsed();
            if elapsed > self.config.grace
                && total < self.config.min_speed.saturating_mul(elapsed.as_secs())
            {
                return Err(slow(format!(
                    "{} B in {:.1} s, below {} B/s",
                    total,
                    elapsed.as_secs_f64(),
                    self.config.min_speed
                )));
            }
        }
        Ok(Some((total, resumed)))
    }
}

/// A `file://` URL: a mirror on a local folder (an update bundle on a USB stick), read with
/// the same bound as any download and verified the same way after.
fn read_local(
    path: &Path,
    offset: u64,
    max: u64,
    mut on: impl FnMut(Received<'_>) -> Result<()>,
) -> Result<Option<(u64, bool)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path)(e)),
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(Error::io(path))?;
    let (mut buf, mut total) = (vec![0u8; 64 * 1024], 0u64);
    loop {
        let n = file.read(&mut buf).map_err(Error::io(path))?;
        if n == 0 {
            return Ok(Some((total, offset > 0)));
        }
        total += n as u64;
        if offset + total > max {
            return Err(Error::TooLarge {
                url: format!("file://{}", path.display()),
                max,
            });
        }
        on(Received::Chunk(buf.get(..n).unwrap_or_default()))?;
    }
}

/// A URL path with its `%XX` escapes decoded (target names are escaped for URLs).
fn percent_decoded(path: &str) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let (bytes, mut out, mut i) = (path.as_bytes(), Vec::with_capacity(path.len()), 0);
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::ffi::OsString::from_vec(out).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_urls_are_decoded() {
        assert_eq!(
            super::percent_decoded("/b/D%C3%BCsseldorf/with%20space%2Fx.bin"),
            std::path::PathBuf::from("/b/Düsseldorf/with space/x.bin")
        );
        assert_eq!(
            super::percent_decoded("/a%zz%4"),
            std::path::PathBuf::from("/a%zz%4")
        );
    }
}
