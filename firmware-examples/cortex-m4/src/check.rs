//! The update check, the same in both modes: the root chain, timestamp (against the one the
//! device persisted), snapshot, top-level targets, the device's hash bin, then the image,
//! hashed chunk by chunk. Only the [`Transport`] differs.

use crate::link::Link;
use crate::select::{decide, Decision, Version};
use crate::slot::Slot;
use embedded_io::Read;
use otuf_core::client::{Client, Handled, Next, Role};
use otuf_core::limits::Limits;
use otuf_core::metadata::{bin_name, TargetVerifier};
use otuf_core::search::{Search, SearchStep};
use otuf_core::time::UnixTime;
use otuf_core::Error;

/// The factory-provisioned trusted root, as its trust anchor (build.rs: otuf-core read and
/// checked the root.json on the build host; every later root is verified on the device).
pub static TRUST_ANCHOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/root.anchor"));
/// The firmware this device looks for.
pub const TARGET: &str = "firmware/sensor-m4.bin";
/// This device's hardware model, matched against `custom.hardware`.
pub const HARDWARE: &str = "sensor-m4";
/// The repository's TAP 15 bin layout (prefix, bit length), provisioned with the root: the
/// device names its bin before the snapshot arrives, because without a heap otuf-core keeps
/// only the snapshot entries it was told to.
pub const BINS: (&str, u32) = ("bins", 4);

/// A file name in the slot.
pub type Name = heapless::String<128>;

/// How verified bytes reach otuf-core.
pub trait Transport {
    /// Verifies `N.root.json`.
    fn root(&mut self, client: &mut Client, file: &[u8]) -> Result<Handled, Error>;
    /// Verifies timestamp, snapshot or targets.
    fn top_level(&mut self, client: &mut Client, file: &[u8]) -> Result<Handled, Error>;
    /// Verifies a delegated targets role.
    fn delegated(&mut self, search: &mut Search<'_>, file: &[u8]) -> Result<(), Error>;
    /// Feeds the image to `verifier` piece by piece (where a device writes the free slot).
    fn image(&mut self, verifier: &mut TargetVerifier, image: &[u8]) -> Result<(), Error>;
}

/// General mode: each file whole, read in place from the memory-mapped slot.
pub struct Buffered;

/// Streaming mode: each file arrives in packets through `chunk`, never whole.
pub struct Streamed<'c> {
    /// The I/O buffer (any size; one packet is 61 bytes).
    pub chunk: &'c mut [u8],
}

impl Transport for Buffered {
    fn root(&mut self, client: &mut Client, file: &[u8]) -> Result<Handled, Error> {
        client.handle(file)
    }
    fn top_level(&mut self, client: &mut Client, file: &[u8]) -> Result<Handled, Error> {
        client.handle(file)
    }
    fn delegated(&mut self, search: &mut Search<'_>, file: &[u8]) -> Result<(), Error> {
        search.handle(file)
    }
    fn image(&mut self, verifier: &mut TargetVerifier, image: &[u8]) -> Result<(), Error> {
        image
            .chunks(512)
            .try_for_each(|piece| verifier.update(piece))
    }
}

impl Transport for Streamed<'_> {
    fn root(&mut self, client: &mut Client, file: &[u8]) -> Result<Handled, Error> {
        // Root is read twice (keys first, then the signatures over `signed`).
        client.handle_root_stream(|| Link::new(file), self.chunk)
    }
    fn top_level(&mut self, client: &mut Client, file: &[u8]) -> Result<Handled, Error> {
        client.handle_stream(Link::new(file), self.chunk)
    }
    fn delegated(&mut self, search: &mut Search<'_>, file: &[u8]) -> Result<(), Error> {
        search.handle_stream(Link::new(file), self.chunk)
    }
    fn image(&mut self, verifier: &mut TargetVerifier, image: &[u8]) -> Result<(), Error> {
        let mut link = Link::new(image);
        loop {
            let n = link.read(self.chunk).unwrap_or(0);
            match self.chunk.get(..n) {
                Some(piece) if n > 0 => verifier.update(piece)?,
                _ => return Ok(()),
            }
        }
    }
}

/// The check's result.
pub enum Verdict {
    /// The image verified: install it (the device writes it as it arrives, boots it after).
    Install {
        /// Its version.
        version: Version,
        /// Its length.
        length: u64,
    },
    /// The newest signed firmware is not newer than the installed one.
    UpToDate(Version),
    /// No trusted role lists the device's firmware.
    NoFirmware,
}

/// The failed check.
pub enum Why {
    /// otuf-core refused the file (the error names the role, the check and the field).
    Core(Error),
    /// The slot does not hold a file the check needs.
    Missing,
    /// Longer than the trusted metadata allows (endless-data defence).
    TooLong(u64),
    /// The target's `custom` fields rule it out.
    Selection(&'static str),
}

impl Why {
    /// Prints `<file>: <why>` on the console, `file` being the one the check was on.
    pub fn print(&self, file: &str) {
        use crate::board::say;
        say(&[file, ": "]);
        match self {
            Why::Core(e) => crate::board::say_error(e),
            Why::Missing => say(&["not in the slot"]),
            // Lengths as `u32`: no 64-bit division on a 32-bit device.
            Why::TooLong(max) => {
                say(&["longer than the "]);
                crate::board::say_number(*max as u32);
                say(&[" bytes allowed"]);
            }
            Why::Selection(why) => say(&[why]),
        }
    }
}

/// Names the slot's metadata file for `role`: `metadata/` and the name TUF gives it.
fn metadata_file(file: &mut Name, role: &str, version: Option<u64>) {
    set(file, &["metadata/"]);
    let _ = otuf_core::metadata::write_file_name(file, role, version);
}

/// Sets `file` to `parts`, joined; a longer name is cut, and then simply not found.
fn set(file: &mut Name, parts: &[&str]) {
    file.clear();
    for p in parts {
        let _ = file.push_str(p);
    }
}

/// Runs the whole check at reference time `now` for a device running `installed`. `log` is
/// told what happened to each file: `baseline` (the persisted timestamp, loaded), `verified`
/// (to be persisted), `searched` (a targets role read for the delegation search), and
/// `refreshed` between the two phases. Every step keeps `file` naming the file it is on (the
/// target, for a selection refusal): the caller's one buffer says which file a refusal is about,
/// and no frame of the check holds a copy of it.
pub fn run(
    transport: &mut impl Transport,
    slot: &Slot,
    now: UnixTime,
    installed: Version,
    log: &mut dyn FnMut(&str, &str, u64),
    file: &mut Name,
) -> Result<Verdict, Why> {
    set(file, &["root (the embedded trust anchor)"]);
    // Made where it stays, then the root read into it: no second copy on the stack.
    let mut client = Client::untrusted(now, Limits::default());
    let client = &mut client;
    client.trust_anchor(TRUST_ANCHOR).map_err(Why::Core)?;
    retain_bin(client)?;
    refresh(transport, slot, client, log, file)?;
    log("refreshed", "", 0);
    find_and_verify(transport, slot, client, installed, log, file)
}

/// Keeps the snapshot entry of the bin [`TARGET`] falls into (a device retains one). Out of
/// line: the bin's name is not on the stack under the refresh and the search.
#[inline(never)]
fn retain_bin(client: &mut Client) -> Result<(), Why> {
    let bin = bin_name(BINS.0, BINS.1, TARGET).map_err(Why::Core)?;
    client.trusted_mut().retain(&bin).map_err(Why::Core)
}

/// The bytes of `file` from the slot, no longer than `max_length`.
fn fetch(slot: &Slot, file: &str, max_length: u64) -> Result<&'static [u8], Why> {
    match slot.file(file) {
        None => Err(Why::Missing),
        Some(bytes) if bytes.len() as u64 > max_length => Err(Why::TooLong(max_length)),
        Some(bytes) => Ok(bytes),
    }
}

/// The root chain, timestamp, snapshot and top-level targets (TUF §5.3–§5.6). Its own frame,
/// out of line: on a device the phases' stack frames must not add up.
#[inline(never)]
fn refresh(
    transport: &mut impl Transport,
    slot: &Slot,
    client: &mut Client,
    log: &mut dyn FnMut(&str, &str, u64),
    file: &mut Name,
) -> Result<(), Why> {
    let mut offered = false;
    loop {
        set(file, &["metadata"]);
        let Next::Fetch {
            role,
            version,
            max_length,
        } = client.next().map_err(Why::Core)?
        else {
            return Ok(());
        };
        metadata_file(file, role.name(), version);
        if role == Role::Timestamp && !offered {
            offered = true;
            // The timestamp persisted last time is the rollback baseline. An unusable copy is
            // not fatal (after a key rotation it no longer verifies, by design).
            let baseline = "trusted/timestamp.json";
            if let Some(local) = slot.file(baseline) {
                match client.offer_local(local) {
                    Ok(_) => log("baseline", baseline, local.len() as u64),
                    Err(_) => log("unusable", baseline, local.len() as u64),
                }
            }
        }
        if role == Role::Root && slot.file(file).is_none() {
            client.not_found().map_err(Why::Core)?; // the chain is complete
            continue;
        }
        let bytes = fetch(slot, file, max_length)?;
        let handled = match role {
            Role::Root => transport.root(client, bytes),
            _ => transport.top_level(client, bytes),
        }
        .map_err(Why::Core)?;
        if handled == Handled::Persist {
            log("verified", file, bytes.len() as u64);
        }
    }
}

/// The delegation search for [`TARGET`], the decision from its `custom` fields, and the image
/// verified chunk by chunk.
#[inline(never)]
fn find_and_verify(
    transport: &mut impl Transport,
    slot: &Slot,
    client: &Client,
    installed: Version,
    log: &mut dyn FnMut(&str, &str, u64),
    file: &mut Name,
) -> Result<Verdict, Why> {
    set(file, &[TARGET]);
    let mut started = Search::new(client.trusted(), TARGET);
    let search = match &mut started {
        Ok(search) => search,
        Err(e) => return Err(Why::Core(*e)),
    };
    loop {
        set(file, &[TARGET]);
        match search.next().map_err(Why::Core)? {
            SearchStep::Fetch {
                role,
                version,
                max_length,
            } => {
                metadata_file(file, role, version);
                let bytes = fetch(slot, file, max_length)?;
                transport.delegated(search, bytes).map_err(Why::Core)?;
                log("searched", file, bytes.len() as u64);
            }
            SearchStep::Found(_) => break,
            SearchStep::NotFound => return Ok(Verdict::NoFirmware),
        }
    }
    let Some(target) = search.found() else {
        return Ok(Verdict::NoFirmware);
    };
    select_and_verify(transport, slot, target, installed, file)
}

/// The decision from the target's `custom` fields, then the image verified chunk by chunk. Its
/// own frame, out of line: the search's deepest point must not carry this phase's state.
#[inline(never)]
fn select_and_verify(
    transport: &mut impl Transport,
    slot: &Slot,
    target: &otuf_core::metadata::TargetFile,
    installed: Version,
    file: &mut Name,
) -> Result<Verdict, Why> {
    set(file, &[TARGET]);
    let version = match decide(target, HARDWARE, installed) {
        Decision::Install(v) => v,
        Decision::UpToDate(v) => return Ok(Verdict::UpToDate(v)),
        Decision::Refuse(why) => return Err(Why::Selection(why)),
    };
    // Consistent snapshots: the image is served as `<dir>/<sha256>.<name>`.
    let Some(digest) = target.hashes.sha256 else {
        return Err(Why::Selection("hashes: no sha256"));
    };
    let (dir, base) = TARGET.rsplit_once('/').unwrap_or(("", TARGET));
    set(file, &["targets/", dir, "/"]);
    for b in digest {
        for nibble in [b >> 4, b & 0xf] {
            let _ = file.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
        }
    }
    let _ = file.push('.');
    let _ = file.push_str(base);
    let image = fetch(slot, file, target.length)?;
    let mut verifier = TargetVerifier::new(target);
    transport.image(&mut verifier, image).map_err(Why::Core)?;
    verifier.finish().map_err(Why::Core)?;
    Ok(Verdict::Install {
        version,
        length: target.length,
    })
}
