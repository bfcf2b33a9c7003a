//! otuf-core in the browser: the client workflow of the agent (root chain, timestamp,
//! snapshot, targets, the delegation search, a target's length and hashes), driven by the
//! portal's JavaScript, which only fetches.
//!
//! The interface is a C ABI over one input and one output buffer in linear memory: the page
//! writes a file (or a path) into the buffer [`otuf_input`] returns, calls a step, and reads
//! the JSON answer at [`otuf_output`]. Every answer is an object; a refusal is
//! `{"error": "<the check that failed>"}`, in otuf-core's own words. The [`Portal`] behind it
//! is plain Rust, tested on the host (`cargo test` here) with the same fixtures.

use otuf_core::client::{Client, Handled, Next, Role};
use otuf_core::limits::Limits;
use otuf_core::metadata::{TargetFile, TargetVerifier};
use otuf_core::search::{Search, SearchStep};
use otuf_core::time::UnixTime;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// The page's verification state: one trusted client, the targets roles fetched so far (as
/// fetched: each search verifies them again, so a bad one only ever fails the searches that
/// reach it), and at most one download being checked.
#[derive(Default)]
pub struct Portal {
    client: Option<Client>,
    /// Targets roles by role name, as the server sent them.
    roles: HashMap<String, Vec<u8>>,
    download: Option<TargetVerifier>,
}

/// A refusal in otuf-core's words.
fn refused(e: impl std::fmt::Display) -> Value {
    json!({ "error": e.to_string() })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A metadata file's name: `N.role.json` when a version is given, the role name
/// percent-encoded as python-tuf writes it.
fn file_name(role: &str, version: Option<u64>) -> String {
    let mut name = String::new();
    // Writing to a String cannot fail.
    let _ = otuf_core::metadata::write_file_name(&mut name, role, version);
    name
}

/// The name of the file a refresh step asks for: `timestamp.json` never has a version in it.
fn fetched_name(role: Role, version: Option<u64>) -> String {
    file_name(role.name(), version.filter(|_| role != Role::Timestamp))
}

/// The answer to a step taken before `start`.
fn no_root() -> Value {
    json!({ "error": "no trusted root: start first" })
}

impl Portal {
    /// Starts a refresh from the root the portal was given, at `now` (UNIX seconds).
    pub fn start(&mut self, root: &[u8], now: i64) -> Value {
        self.roles.clear();
        self.download = None;
        match Client::new(root, UnixTime(now), Limits::default()) {
            Ok(client) => {
                self.client = Some(client);
                self.next()
            }
            Err(e) => {
                self.client = None;
                json!({ "error": format!("trusted root.json: {e}") })
            }
        }
    }

    /// The next file the refresh needs (`{"fetch", "max_length", "root"}`), or `{"ready"}`
    /// with what is now trusted.
    pub fn next(&self) -> Value {
        let Some(client) = &self.client else {
            return no_root();
        };
        match client.next() {
            Ok(Next::Fetch {
                role,
                version,
                max_length,
            }) => {
                json!({
                    "fetch": fetched_name(role, version),
                    "role": role.name(),
                    "max_length": max_length,
                    "root": role == Role::Root,
                })
            }
            Ok(Next::Ready) => {
                let set = client.trusted();
                let root = set.root();
                json!({
                    "ready": {
                        "root": root.common.version,
                        "timestamp": set.timestamp().map(|t| t.common.version),
                        "snapshot": set.snapshot().map(|s| s.common.version),
                        "targets": set.targets().map(|t| t.version),
                        "consistent_snapshot": root.consistent_snapshot,
                    }
                })
            }
            Err(e) => refused(e),
        }
    }

    /// Verifies the file the last `next` asked for, then says what comes next.
    pub fn handle(&mut self, bytes: &[u8]) -> Value {
        let Some(client) = &mut self.client else {
            return no_root();
        };
        let asked = match client.next() {
            Ok(Next::Fetch { role, version, .. }) => fetched_name(role, version),
            _ => "metadata".into(),
        };
        match client.handle(bytes) {
            // `persist`: the file now trusted, for a page that keeps its newest root.
            Ok(Handled::Persist) => {
                let mut next = self.next();
                next["persist"] = json!(asked);
                next
            }
            Ok(Handled::Unchanged) => self.next(),
            Err(e) => json!({ "error": format!("{asked}: {e}") }),
        }
    }

    /// Offers the page's own copy of the role the last `next` asked for (kept from an earlier
    /// visit): a timestamp becomes the rollback baseline, a snapshot or targets that is still
    /// current saves the download. `{"current": true}` means go on with `next`; a copy that
    /// does not verify is only not used (`{"current": false, "unused": why}`).
    pub fn offer_local(&mut self, bytes: &[u8]) -> Value {
        let Some(client) = &mut self.client else {
            return no_root();
        };
        match client.offer_local(bytes) {
            Ok(current) => json!({ "current": current }),
            Err(e) => json!({ "current": false, "unused": e.to_string() }),
        }
    }

    /// The server has no next root version: the chain is complete.
    pub fn not_found(&mut self) -> Value {
        let Some(client) = &mut self.client else {
            return no_root();
        };
        match client.not_found() {
            Ok(()) => self.next(),
            Err(e) => refused(e),
        }
    }

    /// Keeps a targets role the page fetched, for the searches that need it.
    pub fn put_role(&mut self, role: &str, bytes: &[u8]) {
        self.roles.insert(role.to_string(), bytes.to_vec());
    }

    /// Searches `path` through the delegations with the roles fetched so far: `{"fetch",
    /// "role", "max_length"}` when one more is needed, `{"found": info}`, or `{"missing"}`
    /// when no trusted role lists it.
    pub fn search(&self, path: &str) -> Value {
        match self.find(path) {
            Ok(Found::Target(info)) => json!({ "found": describe(path, &info, self.consistent()) }),
            Ok(Found::Fetch(fetch)) => fetch,
            Ok(Found::Missing) => json!({ "missing": true }),
            Err(e) => e,
        }
    }

    fn consistent(&self) -> bool {
        self.client
            .as_ref()
            .is_some_and(|c| c.trusted().root().consistent_snapshot)
    }

    fn find(&self, path: &str) -> Result<Found, Value> {
        let client = self.client.as_ref().ok_or_else(no_root)?;
        let mut search = Search::new(client.trusted(), path).map_err(refused)?;
        loop {
            let role = search.pending().unwrap_or("targets").to_string();
            match search
                .next()
                .map_err(|e| json!({ "error": format!("{role}: {e}") }))?
            {
                SearchStep::Found(info) => return Ok(Found::Target(Box::new(info.clone()))),
                SearchStep::NotFound => return Ok(Found::Missing),
                SearchStep::Fetch {
                    role,
                    version,
                    max_length,
                } => {
                    let name = file_name(role, version.filter(|_| self.consistent()));
                    let Some(bytes) = self.roles.get(role) else {
                        return Ok(Found::Fetch(json!({
                            "fetch": name,
                            "role": role,
                            "max_length": max_length,
                        })));
                    };
                    search
                        .handle(bytes)
                        .map_err(|e| json!({ "error": format!("{name}: {e}") }))?;
                }
            }
        }
    }

    /// Starts checking a download of `path` (found with the roles fetched so far).
    pub fn download_start(&mut self, path: &str) -> Value {
        self.download = None;
        match self.find(path) {
            Ok(Found::Target(info)) => {
                self.download = Some(TargetVerifier::new(&info));
                json!({ "found": describe(path, &info, self.consistent()) })
            }
            Ok(Found::Fetch(fetch)) => fetch,
            Ok(Found::Missing) => json!({ "error": format!("{path}: no trusted role lists it") }),
            Err(e) => e,
        }
    }

    /// Hashes the next chunk of the download; refuses a byte past the signed length.
    pub fn download_update(&mut self, chunk: &[u8]) -> Value {
        let Some(check) = &mut self.download else {
            return json!({ "error": "no download being checked" });
        };
        match check.update(chunk) {
            Ok(()) => json!({ "remaining": check.remaining() }),
            Err(e) => {
                self.download = None;
                refused(e)
            }
        }
    }

    /// Whether the whole download arrived with every signed hash.
    pub fn download_finish(&mut self) -> Value {
        match self.download.take() {
            Some(check) => match check.finish() {
                Ok(()) => json!({ "verified": true }),
                Err(e) => refused(e),
            },
            None => json!({ "error": "no download being checked" }),
        }
    }
}

enum Found {
    // Boxed: a target's info is a kilobyte of fixed capacity, the other answers are small.
    Target(Box<TargetFile>),
    Fetch(Value),
    Missing,
}

/// A found target as the page shows it: its signed length, hashes and `custom`, and where it
/// is under `targets/` (with its hash prefix under consistent snapshots).
fn describe(path: &str, info: &TargetFile, consistent: bool) -> Value {
    let mut hashes = serde_json::Map::new();
    if let Some(d) = info.hashes.sha256 {
        hashes.insert("sha256".into(), json!(hex(&d)));
    }
    if let Some(d) = info.hashes.sha512 {
        hashes.insert("sha512".into(), json!(hex(&d)));
    }
    if let Some(d) = info.hashes.blake2b_256 {
        hashes.insert("blake2b-256".into(), json!(hex(&d)));
    }
    let prefix = ["sha256", "sha512", "blake2b-256"]
        .iter()
        .find_map(|name| hashes.get(*name).and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    let file = if consistent {
        match path.rsplit_once('/') {
            Some((dir, base)) => format!("{dir}/{prefix}.{base}"),
            None => format!("{prefix}.{path}"),
        }
    } else {
        path.to_string()
    };
    let custom = info
        .custom
        .as_deref()
        .and_then(|c| serde_json::from_slice::<Value>(c).ok())
        .unwrap_or(Value::Null);
    json!({ "length": info.length, "hashes": hashes, "custom": custom, "file": file })
}

/// Verification draws no random numbers (only signing would); the rsa crate links a source.
fn no_randomness(_: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}
getrandom::register_custom_getrandom!(no_randomness);

thread_local! {
    static PORTAL: RefCell<Portal> = RefCell::default();
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `step` on the portal with the input buffer and keeps its answer for [`otuf_output`];
/// returns the answer's length.
fn call(step: impl FnOnce(&mut Portal, &[u8]) -> Value) -> usize {
    let answer = INPUT.with_borrow(|input| PORTAL.with_borrow_mut(|p| step(p, input)));
    OUTPUT.with_borrow_mut(|out| {
        *out = serde_json::to_vec(&answer).unwrap_or_default();
        out.len()
    })
}

fn text(input: &[u8]) -> Result<&str, Value> {
    std::str::from_utf8(input).map_err(|_| json!({ "error": "a path must be UTF-8" }))
}

/// The input buffer, resized to `len` bytes, for the page to write the next call's input into.
#[no_mangle]
pub extern "C" fn otuf_input(len: usize) -> *mut u8 {
    INPUT.with_borrow_mut(|input| {
        input.clear();
        input.resize(len, 0);
        input.as_mut_ptr()
    })
}

/// Where the last answer is (its length was the call's return value).
#[no_mangle]
pub extern "C" fn otuf_output() -> *const u8 {
    OUTPUT.with_borrow(|out| out.as_ptr())
}

/// Input: the trusted root.json. Starts a refresh at `now` (UNIX seconds).
#[no_mangle]
pub extern "C" fn otuf_start(now: f64) -> usize {
    call(|p, root| p.start(root, now as i64))
}

/// What the refresh needs next.
#[no_mangle]
pub extern "C" fn otuf_next() -> usize {
    call(|p, _| p.next())
}

/// Input: the file the refresh asked for.
#[no_mangle]
pub extern "C" fn otuf_handle() -> usize {
    call(|p, bytes| p.handle(bytes))
}

/// Input: the page's kept copy of the role the refresh asked for.
#[no_mangle]
pub extern "C" fn otuf_offer_local() -> usize {
    call(|p, bytes| p.offer_local(bytes))
}

/// The next root version does not exist (HTTP 404).
#[no_mangle]
pub extern "C" fn otuf_not_found() -> usize {
    call(|p, _| p.not_found())
}

/// Input: a targets role's name, then its file; `name_len` is where the name ends.
#[no_mangle]
pub extern "C" fn otuf_put_role(name_len: usize) -> usize {
    call(|p, input| {
        let (name, bytes) = input.split_at(name_len.min(input.len()));
        match text(name) {
            Ok(name) => {
                p.put_role(name, bytes);
                json!({})
            }
            Err(e) => e,
        }
    })
}

/// Input: a target path.
#[no_mangle]
pub extern "C" fn otuf_search() -> usize {
    call(|p, path| text(path).map_or_else(|e| e, |path| p.search(path)))
}

/// Input: a target path, found already.
#[no_mangle]
pub extern "C" fn otuf_download_start() -> usize {
    call(|p, path| text(path).map_or_else(|e| e, |path| p.download_start(path)))
}

/// Input: the next chunk of the download.
#[no_mangle]
pub extern "C" fn otuf_download_update() -> usize {
    call(|p, chunk| p.download_update(chunk))
}

/// Whether the download verified.
#[no_mangle]
pub extern "C" fn otuf_download_finish() -> usize {
    call(|p, _| p.download_finish())
}
