//! Entry points for `cargo fuzz` and the property tests: each runs a parser or the state
//! machine on arbitrary bytes and checks invariants that must hold for any input. A panic here
//! is a bug; so is a failed assertion.

use crate::client::{Client, Next, Role};
use crate::json::Sink;
use crate::limits::Limits;
use crate::metadata::envelope::{self, General};
use crate::metadata::root::RootBody;
use crate::metadata::snapshot::SnapshotBody;
use crate::metadata::targets::TargetsBody;
use crate::metadata::timestamp::TimestampBody;
use crate::metadata::{Body, RoleKeys};
use crate::time::UnixTime;

struct Counter(usize, heapless::Vec<u8, 4096>, bool);

impl Sink for Counter {
    fn write(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
        if self.1.extend_from_slice(bytes).is_err() {
            self.2 = true;
        }
    }
}

/// Canonicalises `data`; when it succeeds and the result is valid JSON again (no raw control
/// characters), canonicalising the result gives it back unchanged.
pub fn tokenizer(data: &[u8]) {
    let mut out = Counter(0, heapless::Vec::new(), false);
    if crate::json::canonicalize_into(data, &mut out).is_ok()
        && !out.2
        && !out.1.iter().any(|&b| b < 0x20)
    {
        let mut again = Counter(0, heapless::Vec::new(), false);
        assert!(
            crate::json::canonicalize_into(&out.1, &mut again).is_ok(),
            "canonical output re-parses"
        );
        assert_eq!(out.1, again.1, "canonical form is a fixed point");
    }
}

fn both_modes<B: Body>(data: &[u8], general_body: &mut B, stream_body: &mut B) {
    let no_keys = RoleKeys {
        threshold: 1,
        ..RoleKeys::default()
    };
    let general = General::parse(data, general_body).map(|g| g.common);
    let mut chunk = [0u8; 7];
    let expect = envelope::Expect {
        max_length: u64::MAX,
        ..Default::default()
    };
    let streamed = envelope::stream(data, &mut chunk, expect, stream_body, (&[], &no_keys));
    if let Ok(s) = streamed {
        // Streaming is the stricter mode: what it reads, general mode reads the same way.
        assert_eq!(
            general,
            Ok(s.common),
            "streaming accepted what general mode did not"
        );
    }
}

/// Parses `data` as a root in both modes.
pub fn root(data: &[u8]) {
    let (mut a, mut b) = Default::default();
    both_modes(data, &mut RootBody::new(&mut a), &mut RootBody::new(&mut b));
}

/// Parses `data` as a timestamp in both modes.
pub fn timestamp(data: &[u8]) {
    both_modes(
        data,
        &mut TimestampBody::default(),
        &mut TimestampBody::default(),
    );
}

/// Parses `data` as a snapshot in both modes.
pub fn snapshot(data: &[u8]) {
    both_modes(
        data,
        &mut SnapshotBody::new(None, &[]),
        &mut SnapshotBody::new(None, &[]),
    );
}

/// Parses `data` as a targets role (with delegations, searching one path) in both modes.
pub fn targets(data: &[u8]) {
    let path = Some("firmware/a.bin");
    let (mut target, mut delegations) = (None, crate::metadata::Matches::default());
    let (mut target2, mut delegations2) = (None, crate::metadata::Matches::default());
    both_modes(
        data,
        &mut TargetsBody::new(path, &mut target, Some(&mut delegations)),
        &mut TargetsBody::new(path, &mut target2, Some(&mut delegations2)),
    );
}

/// Parses `data` as each role in both modes.
pub fn metadata(data: &[u8]) {
    root(data);
    timestamp(data);
    snapshot(data);
    targets(data);
}

/// The files of a repository the state machine refreshes from.
pub struct Repo<'a> {
    /// The trusted root.
    pub root: &'a [u8],
    /// `timestamp.json`.
    pub timestamp: &'a [u8],
    /// The snapshot.
    pub snapshot: &'a [u8],
    /// The top-level targets.
    pub targets: &'a [u8],
}

/// Refreshes from `repo` in general mode or streaming mode; the versions trusted, or the error.
pub fn refresh(repo: &Repo<'_>, now: i64, stream: bool) -> crate::Result<[u64; 4]> {
    let mut client = Client::new(repo.root, UnixTime(now), Limits::default())?;
    client.not_found()?;
    let mut chunk = [0u8; 13];
    loop {
        let file = match client.next()? {
            Next::Ready => break,
            Next::Fetch {
                role: Role::Timestamp,
                ..
            } => repo.timestamp,
            Next::Fetch {
                role: Role::Snapshot,
                ..
            } => repo.snapshot,
            Next::Fetch {
                role: Role::Targets,
                ..
            } => repo.targets,
            Next::Fetch {
                role: Role::Root, ..
            } => {
                return Err(crate::Error::new(
                    crate::ErrorKind::Misuse,
                    crate::Field::None,
                ))
            }
        };
        if stream {
            client.handle_stream(file, &mut chunk)?;
        } else {
            client.handle(file)?;
        }
    }
    let t = client.trusted();
    Ok([
        t.root().common.version,
        t.timestamp().map_or(0, |x| x.common.version),
        t.snapshot().map_or(0, |x| x.common.version),
        t.targets().map_or(0, |x| x.version),
    ])
}

/// Replaces one file of a good repository with `data` (chosen by `which`) and refreshes in
/// both modes: no panic, and whatever streaming accepts, general mode accepts identically.
pub fn client(good: &Repo<'_>, now: i64, which: u8, data: &[u8]) {
    let mut repo = Repo { ..*good };
    match which % 4 {
        0 => repo.root = data,
        1 => repo.timestamp = data,
        2 => repo.snapshot = data,
        _ => repo.targets = data,
    }
    let general = refresh(&repo, now, false);
    if let Ok(v) = refresh(&repo, now, true) {
        assert_eq!(
            general,
            Ok(v),
            "streaming accepted what general mode did not"
        );
    }
}
