//! The TUF metadata model, read from borrowed bytes into fixed-capacity structures.
//!
//! Each role's `signed` body is read by one parser that does not care about member order, so
//! the same code serves general mode (any valid JSON) and streaming mode (canonical order, read
//! once). Unknown fields are skipped, but still covered by the signature.

pub(crate) mod delegation;
pub(crate) mod envelope;
pub(crate) mod meta;
pub(crate) mod root;
pub(crate) mod snapshot;
pub(crate) mod succinct;
pub(crate) mod targets;
pub(crate) mod timestamp;

pub use crate::hashes::Hashes;
#[cfg(feature = "general")]
pub use delegation::{delegated_role, delegations_for_target};
pub use delegation::{glob_match, path_hash_matches, Delegated, Matches};
pub use meta::{MetaFile, TargetFile, TargetVerifier};
pub use root::Root;
pub use snapshot::Snapshot;
pub use succinct::{bin_name, SuccinctRoles};
pub use targets::Targets;
pub use timestamp::Timestamp;

use crate::crypto::{Key, KeyId, KeySet, PublicKey};
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{list, MemberTable, Object};
use crate::json::source::Source;
use crate::json::Text;
use crate::limits::{MAX_ROLE_KEYS, MAX_ROLE_NAME};
use crate::time::UnixTime;

/// The key IDs a role lists, as read.
pub(crate) type KeyIds = heapless::Vec<KeyId, MAX_ROLE_KEYS>;

/// A role name (delegated names can be anything up to [`MAX_ROLE_NAME`] bytes).
pub type RoleName = heapless::String<MAX_ROLE_NAME>;

/// The keys authorised for a role, as positions in the key set it was read with (a root's
/// keys, or its delegator's), and how many must sign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoleKeys {
    /// Bit `i`: `keys[i]` is authorised (each key once).
    pub(crate) keys: u32,
    /// Signatures by distinct keys required (at least 1).
    pub threshold: u64,
}

impl RoleKeys {
    /// The authorised key IDs, from the key set the role was read with.
    pub fn keyids<'k>(&self, keys: &'k [Key]) -> impl Iterator<Item = &'k KeyId> + 'k {
        let bits = self.keys;
        keys.iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, k)| &k.keyid)
    }

    /// The position of `keyid` in `keys`, when it is one of this role's.
    pub(crate) fn find(&self, keys: &[Key], keyid: &KeyId) -> Option<usize> {
        crate::crypto::position(keys, 0, keyid).filter(|i| self.keys & (1 << i) != 0)
    }

    /// Reads a `keyids` array (each ID once, at most [`MAX_ROLE_KEYS`]).
    pub(crate) fn read_keyids<S: Source, K: Canon>(lx: &mut Lexer<S, K>) -> Result<KeyIds> {
        let mut ids = KeyIds::new();
        list(lx, Field::Keyids, &mut |lx| {
            let mut hex = crate::crypto::HexKeyId::default();
            lx.string(&mut hex)?;
            let id = hex
                .id()
                .ok_or(Fault::new(ErrorKind::BadValue, Field::Keyids))?;
            if ids.contains(&id) {
                return Err(Fault::new(ErrorKind::BadValue, Field::KeyidsDuplicate));
            }
            ids.push(id)
                .map_err(|_| Fault::new(ErrorKind::Limit, Field::Keyids))
        })?;
        Ok(ids)
    }

    /// The positions of `ids` in `keys[from..]`; an ID not there yet is added as
    /// [`PublicKey::Absent`] (in general mode the `keys` object may come later and fill it in).
    pub(crate) fn resolve(ids: &[KeyId], keys: &mut KeySet, from: usize) -> Result<u32> {
        let mut bits = 0;
        for id in ids {
            let i = match crate::crypto::position(keys, from, id) {
                Some(i) => i,
                None => {
                    let absent = Key {
                        keyid: *id,
                        public: PublicKey::Absent,
                    };
                    keys.push(absent)
                        .map_err(|_| Fault::new(ErrorKind::Limit, Field::Keys))?;
                    keys.len() - 1
                }
            };
            bits |= 1 << i;
        }
        Ok(bits)
    }

    /// Reads a `threshold` (at least 1).
    pub(crate) fn read_threshold<S: Source, K: Canon>(
        &mut self,
        lx: &mut Lexer<S, K>,
    ) -> Result<()> {
        self.threshold = lx.uint()?;
        if self.threshold == 0 {
            return Err(Fault::new(ErrorKind::BadValue, Field::Threshold));
        }
        Ok(())
    }
}

/// The fields every role's `signed` has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Common {
    /// `version`, at least 1.
    pub version: u64,
    /// `expires`.
    pub expires: UnixTime,
}

/// The members every role's `signed` has, first in each role's table (bits 0 to 3).
macro_rules! signed_members {
    ($(($name:literal, $field:expr)),* $(,)?) => {
        $crate::json::read::members![
            ("_type", $crate::error::Field::Type),
            ("expires", $crate::error::Field::Expires),
            ("spec_version", $crate::error::Field::SpecVersion),
            ("version", $crate::error::Field::Version),
            $(($name, $field)),*
        ]
    };
}
pub(crate) use signed_members;

/// Bits of the common members, all required.
const COMMON: u32 = 0b1111;

/// A role's own members of `signed`.
pub(crate) trait Body {
    /// `_type` of this role.
    const TYPE: &'static [u8];
    /// The members of `signed`: [`signed_members!`] and the role's own.
    const MEMBERS: &'static MemberTable;
    /// The role's own required members (bits over `MEMBERS`).
    const REQUIRED: u32;
    /// Reads the value of the role's own member `MEMBERS[i]`.
    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, i: usize) -> Result<()>;
    /// Checks what the members say together.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What a role's `signed` holds: `Body`'s constants, behind one reference.
pub(crate) struct Schema {
    /// `Body::TYPE`.
    role_type: &'static [u8],
    /// `Body::MEMBERS`.
    members: &'static MemberTable,
    /// `Body::REQUIRED`.
    required: u32,
}

/// [`Body`] for one tokenizer type, callable through `dyn`: `parse_signed` then exists once per
/// tokenizer, not once per role as well (code size on a device).
pub(crate) trait Members<S: Source, K: Canon> {
    /// The role's constants (one method for the three: each is a vtable entry and a function
    /// per role on a device).
    fn schema(&self) -> &'static Schema;
    /// `Body::member`.
    fn member(&mut self, lx: &mut Lexer<S, K>, i: usize) -> Result<()>;
    /// `Body::finish`.
    fn finish(&mut self) -> Result<()>;
}

impl<S: Source, K: Canon, B: Body> Members<S, K> for B {
    fn schema(&self) -> &'static Schema {
        &const {
            Schema {
                role_type: B::TYPE,
                members: B::MEMBERS,
                required: B::REQUIRED,
            }
        }
    }
    fn member(&mut self, lx: &mut Lexer<S, K>, i: usize) -> Result<()> {
        Body::member(self, lx, i)
    }
    fn finish(&mut self) -> Result<()> {
        Body::finish(self)
    }
}

/// Reads a `signed` object: the common fields here, the rest through `body`.
pub(crate) fn parse_signed<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    body: &mut dyn Members<S, K>,
) -> Result<Common> {
    let mut common = Common::default();
    let schema = body.schema();
    let (members, required) = (schema.members, schema.required | COMMON);
    // A loop, not a `record` callback: every role's deepest read is below this one.
    let mut signed = Object::begin(lx, Field::Signed, members)?;
    while let Some(i) = signed.next(lx)? {
        signed.value(match i {
            0..=3 => read_common(lx, i, schema.role_type, &mut common),
            _ => body.member(lx, i),
        })?;
    }
    signed.end(required)?;
    body.finish()?;
    Ok(common)
}

/// Reads common member `i` (`_type`, `expires`, `spec_version`, `version`). Out of line: its
/// text buffer is not on the stack while the role's own members are read.
#[inline(never)]
fn read_common<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    i: usize,
    role_type: &[u8],
    common: &mut Common,
) -> Result<()> {
    let mut text = Text::<32>::default();
    match i {
        0 => {
            lx.string(&mut text.out())?;
            if !text.is(role_type) {
                return Err(Fault::new(ErrorKind::RoleType, Field::Type));
            }
        }
        1 => {
            lx.string(&mut text.out())?;
            common.expires = UnixTime::expires(text.get().unwrap_or_default())
                .ok_or(Fault::new(ErrorKind::BadValue, Field::Expires))?;
        }
        2 => {
            lx.string(&mut text.out())?;
            check_spec_version(text.get().unwrap_or_default())?;
        }
        _ => {
            common.version = lx.uint()?;
            if common.version == 0 {
                return Err(Fault::new(ErrorKind::BadValue, Field::Version));
            }
        }
    }
    Ok(())
}

/// `spec_version` is `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` in digits, with major 1.
fn check_spec_version(s: &[u8]) -> Result<()> {
    let mut n = 0;
    for p in s.split(|&c| c == b'.') {
        if p.is_empty() || !p.iter().all(u8::is_ascii_digit) {
            n = 0;
            break;
        }
        n += 1;
    }
    if !(2..=3).contains(&n) {
        return Err(Fault::new(ErrorKind::BadValue, Field::SpecVersion));
    }
    if s.split(|&c| c == b'.').next() != Some(b"1") {
        return Err(Fault::new(ErrorKind::SpecVersion, Field::SpecVersion));
    }
    Ok(())
}

/// Writes a metadata file name as TUF repositories and clients name them: `V.` when a version is
/// given (consistent snapshots, root), then the role name with every byte but unreserved ASCII
/// percent-encoded (python-tuf's `quote(name, safe="")`, so `/` in a delegated name is `%2F`),
/// then `.json`.
pub fn write_file_name(
    out: &mut impl core::fmt::Write,
    role: &str,
    version: Option<u64>,
) -> core::fmt::Result {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if let Some(v) = version {
        write_decimal(out, v)?;
        out.write_char('.')?;
    }
    for b in role.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.write_char(char::from(b))?;
        } else {
            let hex = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
            out.write_char('%')?;
            out.write_char(hex(b >> 4))?;
            out.write_char(hex(b & 0xf))?;
        }
    }
    out.write_str(".json")
}

/// `v` in decimal, by subtraction: no 64-bit division (and none of `core::fmt`'s integer
/// formatting) on a 32-bit device.
fn write_decimal(out: &mut impl core::fmt::Write, mut v: u64) -> core::fmt::Result {
    let mut started = false;
    for i in (0..20).rev() {
        let power = 10u64.pow(i);
        let mut digit = b'0';
        while v >= power {
            v -= power;
            digit += 1;
        }
        if digit != b'0' || started || i == 0 {
            out.write_char(char::from(digit))?;
            started = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    fn name(role: &str, version: Option<u64>) -> String {
        let mut s = String::new();
        super::write_file_name(&mut s, role, version).unwrap();
        s
    }

    #[test]
    fn file_names_are_versioned_and_percent_encoded() {
        assert_eq!(name("snapshot", None), "snapshot.json");
        assert_eq!(name("root", Some(1)), "1.root.json");
        assert_eq!(name("targets", Some(0)), "0.targets.json");
        assert_eq!(name("bins-3f", Some(10)), "10.bins-3f.json");
        assert_eq!(
            name("a/b c", Some(u64::MAX)),
            "18446744073709551615.a%2Fb%20c.json"
        );
        assert_eq!(name("x", Some(1_000_000_007)), "1000000007.x.json");
    }
}
