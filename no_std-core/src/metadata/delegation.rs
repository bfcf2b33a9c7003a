//! Delegations of a targets role, evaluated for one target path as they are read: only the
//! roles that the path is delegated to are kept (in order, up to the first terminating one),
//! with the keys they need, so nothing grows with the number of delegations.

use super::root::parse_keys;
use super::succinct::bin_name;
use super::{KeyIds, RoleKeys, RoleName};
use crate::crypto::KeySet;
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{list, members, record, MemberTable};
use crate::json::source::Source;
use crate::json::Text;
use crate::limits::{MAX_PATH, MAX_ROLE_NAME, MAX_SEARCH_STACK};

/// A delegated role that the searched path is delegated to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegated {
    /// The role's name.
    pub name: RoleName,
    /// Its keys and threshold.
    pub role: RoleKeys,
    /// Whether the search stops after this role.
    pub terminating: bool,
}

/// The delegations of one targets role, as they matter to one target path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    /// The delegation keys.
    pub keys: KeySet,
    /// The roles to visit, in order.
    pub roles: heapless::Vec<Delegated, MAX_SEARCH_STACK>,
}

/// Where a parse puts the delegations it keeps: the keys into a key set, from a position on
/// (roles refer to them by position), and each kept role.
pub(crate) trait Keep {
    /// The key set, and the position this file's keys start at.
    fn keys(&mut self) -> (&mut KeySet, usize);
    /// A role the path is delegated to (in order, up to the first terminating one).
    fn role(&mut self, role: Delegated) -> Result<()>;
}

impl Keep for Matches {
    fn keys(&mut self) -> (&mut KeySet, usize) {
        (&mut self.keys, 0)
    }
    fn role(&mut self, role: Delegated) -> Result<()> {
        self.roles
            .push(role)
            .map_err(|_| Fault::new(ErrorKind::Limit, Field::DelegationRoles))
    }
}

const TOP_LEVEL: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// Which delegated roles a parse keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Select<'a> {
    /// Those a target path is delegated to (`None`: none, the delegations are only checked).
    Path(Option<&'a str>),
    /// The one of this name (a repository re-signing a role finds its keys so).
    #[cfg(feature = "general")]
    Name(&'a str),
}

impl<'a> Select<'a> {
    /// The target path, when a path is what selects.
    #[allow(clippy::infallible_destructuring_match)] // `Name` exists only with general mode
    fn path(self) -> Option<&'a str> {
        match self {
            Select::Path(p) => p,
            #[cfg(feature = "general")]
            Select::Name(_) => None,
        }
    }
}

/// Reads a `delegations` object, keeping the roles `select` asks for.
#[cfg(feature = "general")]
pub(crate) fn parse<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    select: Select<'_>,
) -> Result<Matches> {
    let mut out = Matches::default();
    parse_into(lx, select, Some(&mut out))?;
    Ok(out)
}

const DELEGATIONS: &MemberTable = members![
    ("keys", Field::DelegationKeys),
    ("roles", Field::DelegationRoles),
    ("succinct_roles", Field::Succinct),
];

const SUCCINCT: &MemberTable = members![
    ("bit_length", Field::SuccinctBitLength),
    ("keyids", Field::Keyids),
    ("name_prefix", Field::SuccinctNamePrefix),
    ("threshold", Field::Threshold),
];

const DELEGATED: &MemberTable = members![
    ("keyids", Field::Keyids),
    ("name", Field::DelegatedName),
    ("path_hash_prefixes", Field::PathHashPrefixes),
    ("paths", Field::DelegatedPaths),
    ("terminating", Field::DelegatedTerminating),
    ("threshold", Field::Threshold),
];

/// Reads a `delegations` object into `keep` (only checked without one).
#[inline(never)] // the delegations' frame only while they are read
pub(crate) fn parse_into<'k, S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    select: Select<'_>,
    mut keep: Option<&mut (dyn Keep + 'k)>,
) -> Result<()> {
    let seen = record(
        lx,
        Field::Delegations,
        DELEGATIONS,
        0b001,
        &mut |lx, i| match i {
            0 => parse_keys(lx, Field::DelegationKeys, keep.as_mut().map(|k| k.keys())),
            1 => parse_roles(lx, select, keep.as_deref_mut()),
            _ => parse_succinct(lx, select, keep.as_deref_mut()),
        },
    )?;
    if seen & 0b010 != 0 && seen & 0b100 != 0 || seen & 0b110 == 0 {
        return Err(Fault::new(ErrorKind::BadValue, Field::DelegationOneOf));
    }
    Ok(())
}

/// Reads `roles` into `keep`, up to the first terminating one that is kept. Out of line, as
/// [`parse_succinct`]: their locals are not on the stack while the keys are read.
#[inline(never)]
fn parse_roles<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    select: Select<'_>,
    mut keep: Option<&mut (dyn Keep + '_)>,
) -> Result<()> {
    let mut stopped = false;
    list(lx, Field::DelegationRoles, &mut |lx| {
        let Some((mut role, ids)) = parse_delegated_role(lx, select)? else {
            return Ok(());
        };
        let Some(keep) = keep.as_mut().filter(|_| !stopped) else {
            return Ok(());
        };
        stopped = role.terminating;
        let (keys, from) = keep.keys();
        role.role.keys = RoleKeys::resolve(&ids, keys, from)?;
        keep.role(role)
    })
}

/// Reads `succinct_roles`: the bin the path falls into (or the one named) is the one delegated.
#[inline(never)]
fn parse_succinct<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    select: Select<'_>,
    keep: Option<&mut (dyn Keep + '_)>,
) -> Result<()> {
    let mut role = RoleKeys::default();
    let (mut bits, mut prefix, mut ids) = (0, Text::<64>::default(), KeyIds::new());
    record(
        lx,
        Field::Succinct,
        SUCCINCT,
        0b1111,
        &mut |lx, i| match i {
            0 => lx.uint().map(|b| bits = b),
            1 => RoleKeys::read_keyids(lx).map(|k| ids = k),
            2 => lx.string(&mut prefix.out()),
            _ => role.read_threshold(lx),
        },
    )?;
    let prefix = prefix
        .as_str()
        .ok_or(Fault::new(ErrorKind::Limit, Field::SuccinctNamePrefix))?;
    let bits = u32::try_from(bits)
        .map_err(|_| Fault::new(ErrorKind::BadValue, Field::SuccinctBitLength))?;
    let name = bin_name(prefix, bits, select.path().unwrap_or_default())
        .map_err(|e| Fault::of(e).in_field(Field::SuccinctBitLength))?;
    let name = match select {
        #[cfg(feature = "general")]
        Select::Name(wanted) => RoleName::try_from(wanted)
            .ok()
            .filter(|_| is_bin(wanted, prefix, bits)),
        Select::Path(p) => p.map(|_| name),
    };
    if let (Some(name), Some(keep)) = (name, keep) {
        let (keys, from) = keep.keys();
        role.keys = RoleKeys::resolve(&ids, keys, from)?;
        keep.role(Delegated {
            name,
            role,
            terminating: false,
        })?;
    }
    Ok(())
}

/// Reads one entry of `roles`; `Some` when `select` asks for it.
fn parse_delegated_role<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    select: Select<'_>,
) -> Result<Option<(Delegated, KeyIds)>> {
    let path = select.path();
    let (mut role, mut ids) = (RoleKeys::default(), KeyIds::new());
    let (mut name, mut terminating, mut matched) = (Text::<MAX_ROLE_NAME>::default(), false, false);
    let hash = path.map(|p| crate::hashes::sha256(p.as_bytes()));
    let seen = record(
        lx,
        Field::DelegationRoles,
        DELEGATED,
        0b11_0011,
        &mut |lx, i| match i {
            0 => RoleKeys::read_keyids(lx).map(|k| ids = k),
            1 => lx.string(&mut name.out()),
            2 => list(lx, Field::PathHashPrefixes, &mut |lx| {
                let mut prefix = Text::<64>::default();
                lx.string(&mut prefix.out())?;
                let prefix = prefix
                    .get()
                    .ok_or(Fault::new(ErrorKind::BadValue, Field::PathHashPrefixes))?;
                matched |= hash.as_ref().is_some_and(|h| hex_starts_with(h, prefix));
                Ok(())
            }),
            3 => list(lx, Field::DelegatedPaths, &mut |lx| {
                let mut pattern = Text::<MAX_PATH>::default();
                lx.string(&mut pattern.out())?;
                let pattern = pattern
                    .as_str()
                    .ok_or(Fault::new(ErrorKind::Limit, Field::DelegatedPaths))?;
                matched |= path.is_some_and(|p| glob_match(pattern, p));
                Ok(())
            }),
            4 => lx.boolean().map(|t| terminating = t),
            _ => role.read_threshold(lx),
        },
    )?;
    let name = name
        .as_str()
        .ok_or(Fault::new(ErrorKind::Limit, Field::DelegatedName))?;
    if name.is_empty() || TOP_LEVEL.contains(&name) {
        return Err(Fault::new(ErrorKind::BadValue, Field::DelegatedName));
    }
    if (seen & 0b0100 != 0) == (seen & 0b1000 != 0) {
        return Err(Fault::new(ErrorKind::BadValue, Field::DelegatedPathsOneOf));
    }
    #[cfg(feature = "general")]
    if let Select::Name(wanted) = select {
        matched = wanted == name;
    }
    if !matched {
        return Ok(None);
    }
    let name =
        RoleName::try_from(name).map_err(|_| Fault::new(ErrorKind::Limit, Field::DelegatedName))?;
    Ok(Some((
        Delegated {
            name,
            role,
            terminating,
        },
        ids,
    )))
}

/// Whether `target_path` falls under a `path_hash_prefixes` entry: the lower-case hex of
/// SHA-256(path) starts with `prefix`.
pub fn path_hash_matches(prefix: &str, target_path: &str) -> bool {
    hex_starts_with(
        &crate::hashes::sha256(target_path.as_bytes()),
        prefix.as_bytes(),
    )
}

/// The roles a standalone `delegations` object delegates `target_path` to, in search order
/// (up to the first terminating one). General mode.
#[cfg(feature = "general")]
pub fn delegations_for_target(json: &[u8], target_path: &str) -> crate::Result<Matches> {
    let mut lx = Lexer::new(
        crate::json::source::SliceSource::new(json),
        crate::json::lexer::NoCanon,
    );
    let m = parse(&mut lx, Select::Path(Some(target_path)));
    m.and_then(|m| lx.finish().map(|()| m))
        .map_err(|f| lx.error(f))
}

/// The role named `name` in a standalone `delegations` object (a bin of `succinct_roles`
/// too), with the keys it needs; `None` when it delegates to no role of that name. General mode.
#[cfg(feature = "general")]
pub fn delegated_role(json: &[u8], name: &str) -> crate::Result<Option<Matches>> {
    let mut lx = Lexer::new(
        crate::json::source::SliceSource::new(json),
        crate::json::lexer::NoCanon,
    );
    let m = parse(&mut lx, Select::Name(name));
    m.and_then(|m| lx.finish().map(|()| (!m.roles.is_empty()).then_some(m)))
        .map_err(|f| lx.error(f))
}

/// Whether `name` is one of the bins `{prefix}-{i:0w x}` of a `succinct_roles` delegation.
#[cfg(feature = "general")]
fn is_bin(name: &str, prefix: &str, bit_length: u32) -> bool {
    let Some(last) = 1u64.checked_shl(bit_length).and_then(|n| n.checked_sub(1)) else {
        return false;
    };
    let width = ((64 - last.leading_zeros()) as usize).div_ceil(4);
    name.strip_prefix(prefix)
        .and_then(|n| n.strip_prefix('-'))
        .filter(|hex| {
            hex.len() == width && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .is_some_and(|i| i <= last)
}

/// Whether the lower-case hex of `digest` starts with `prefix`.
fn hex_starts_with(digest: &[u8], prefix: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    prefix.len() <= digest.len() * 2
        && prefix.iter().enumerate().all(|(i, &c)| {
            let byte = digest.get(i / 2).copied().unwrap_or(0);
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0xf };
            HEX.get(usize::from(nibble)) == Some(&c)
        })
}

/// TUF's `paths` pattern match (python-tuf's `_is_target_in_pathpattern`): both split on `/`
/// into the same number of parts, each part matched by `fnmatch` (`*`, `?`, `[...]`, `[!...]`),
/// so `*` never crosses a `/`. Characters are code points, as in Python; the match runs over
/// the UTF-8 bytes (`/`, `*`, `?`, `[`, `]`, `!` and `-` are ASCII, so they never occur inside
/// a multi-byte character).
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let (mut pp, mut tp) = (
        pattern.as_bytes().split(|&b| b == b'/'),
        path.as_bytes().split(|&b| b == b'/'),
    );
    loop {
        match (pp.next(), tp.next()) {
            (None, None) => return true,
            (Some(p), Some(t)) if fnmatch(p, t) => {}
            _ => return false,
        }
    }
}

/// The first character of valid UTF-8 `s`, and the rest.
fn next_char(s: &[u8]) -> Option<(u32, &[u8])> {
    let (&lead, rest) = s.split_first()?;
    let extra = match lead {
        0..=0x7F => return Some((u32::from(lead), rest)),
        0xC0..=0xDF => 1,
        0xE0..=0xEF => 2,
        _ => 3,
    };
    let (tail, rest) = (rest.get(..extra)?, rest.get(extra..)?);
    let c = tail
        .iter()
        .fold(u32::from(lead) & (0x3F >> extra), |c, &b| {
            (c << 6) | u32::from(b & 0x3F)
        });
    Some((c, rest))
}

/// One-character matcher of a pattern: a literal, `?`, or a bracket set.
enum Atom<'p> {
    Star,
    Any,
    Char(u32),
    Set { items: &'p [u8], negate: bool },
}

/// Splits the next atom off `p` (Python's `fnmatch.translate` rules for brackets).
fn next_atom(p: &[u8]) -> Option<(Atom<'_>, &[u8])> {
    let (c, rest) = next_char(p)?;
    Some(match c {
        0x2A => (Atom::Star, rest), // `*`
        0x3F => (Atom::Any, rest),  // `?`
        0x5B => {
            // `[`; a `]` right after `[` or `[!` is a literal member.
            let negate = rest.first() == Some(&b'!');
            let start = usize::from(negate);
            let search_from = start + usize::from(rest.get(start) == Some(&b']'));
            let end = rest
                .get(search_from..)
                .and_then(|b| b.iter().position(|&x| x == b']'));
            match end {
                Some(end) => {
                    let close = search_from + end;
                    let items = rest.get(start..close).unwrap_or_default();
                    let after = rest.get(close + 1..).unwrap_or_default();
                    (Atom::Set { items, negate }, after)
                }
                None => (Atom::Char(c), rest),
            }
        }
        c => (Atom::Char(c), rest),
    })
}

fn set_contains(items: &[u8], c: u32) -> bool {
    let mut rest = items;
    while let Some((lo, after)) = next_char(rest) {
        if let Some((b'-', range)) = after.split_first() {
            if let Some((hi, next)) = next_char(range) {
                if lo <= c && c <= hi {
                    return true;
                }
                rest = next;
                continue;
            }
        }
        if lo == c {
            return true;
        }
        rest = after;
    }
    false
}

fn atom_matches(atom: &Atom<'_>, c: u32) -> bool {
    match atom {
        Atom::Star | Atom::Any => true,
        Atom::Char(x) => *x == c,
        Atom::Set { items, negate } => set_contains(items, c) != *negate,
    }
}

/// `fnmatch.fnmatchcase` for one path part: greedy `*` with backtracking to the last star.
fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (pattern, text);
    let mut backtrack: Option<(&[u8], &[u8])> = None;
    loop {
        match next_atom(p) {
            Some((Atom::Star, rest)) => {
                backtrack = Some((rest, t));
                p = rest;
                continue;
            }
            Some((atom, rest)) => {
                if let Some((c, after)) = next_char(t) {
                    if atom_matches(&atom, c) {
                        p = rest;
                        t = after;
                        continue;
                    }
                }
            }
            None if t.is_empty() => return true,
            None => {}
        }
        // Mismatch: let the last star swallow one more character.
        let Some((after_star, star_t)) = backtrack else {
            return false;
        };
        let Some((_, rest)) = next_char(star_t) else {
            return false;
        };
        backtrack = Some((after_star, rest));
        p = after_star;
        t = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "general")]
    fn roles_are_found_by_name_with_their_keys() {
        let roles = r#"{"keys":{},"roles":[{"name":"a","keyids":[],"threshold":1,"terminating":false,"paths":["x/*"]},{"name":"b","keyids":[],"threshold":2,"terminating":true,"path_hash_prefixes":["0"]}]}"#;
        let b = delegated_role(roles.as_bytes(), "b").unwrap().unwrap();
        assert_eq!(b.roles.len(), 1);
        assert_eq!(
            (b.roles[0].name.as_str(), b.roles[0].role.threshold),
            ("b", 2)
        );
        assert!(delegated_role(roles.as_bytes(), "c").unwrap().is_none());
        let bins = r#"{"keys":{},"succinct_roles":{"bit_length":5,"name_prefix":"bins","keyids":[],"threshold":1}}"#;
        for (name, found) in [
            ("bins-1f", true),
            ("bins-00", true),
            ("bins-20", false),
            ("bins-1", false),
            ("bins-1F", false),
            ("other-00", false),
        ] {
            assert_eq!(
                delegated_role(bins.as_bytes(), name).unwrap().is_some(),
                found,
                "{name}"
            );
        }
    }

    #[test]
    fn star_stays_within_a_part() {
        assert!(glob_match("firmware/*", "firmware/a.bin"));
        assert!(!glob_match("firmware/*", "firmware/x/a.bin"));
        assert!(glob_match("*/*.bin", "a/b.bin"));
        assert!(glob_match("*", "ß"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("a*b*c", "aXbYbc"));
    }

    #[test]
    fn brackets_and_question_marks() {
        assert!(glob_match("v?.bin", "v1.bin"));
        assert!(glob_match("v?.bin", "vß.bin"));
        assert!(!glob_match("v?.bin", "v12.bin"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("[]]", "]"));
        assert!(glob_match("[", "["));
        assert!(glob_match("[!]]", "a"));
    }

    #[test]
    fn characters_are_code_points_as_in_python() {
        // Each verdict is Python's `fnmatch.fnmatchcase(text, pattern)`.
        for (text, pattern, want) in [
            ("βx", "[α-ω]x", true),
            ("€", "?", true),
            ("€", "[!€]", false),
            ("a€b", "a*b", true),
            ("€-", "[€-]", false),
            ("-", "[€-]", true),
            ("x", "[€-]", false),
            ("ab", "[!]]b", true),
            ("]b", "[!]]b", false),
            ("😀z", "[😀]z", true),
            ("a[b", "a[b", true),
        ] {
            assert_eq!(glob_match(pattern, text), want, "{text:?} {pattern:?}");
        }
    }

    #[test]
    fn hex_prefixes() {
        assert!(hex_starts_with(&[0xab, 0xcd], b"abc"));
        assert!(!hex_starts_with(&[0xab, 0xcd], b"abd"));
        assert!(hex_starts_with(&[0xab], b""));
    }
}
