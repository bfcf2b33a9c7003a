//! Objects, maps and arrays read through tables: a role's reader lists its members once, and
//! the iteration, the once-only and required checks, and naming the field in an error live
//! here, one copy for every object the core reads.

use super::lexer::{Canon, Lexer};
use super::source::Source;
use super::{Text, TextOf};
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};

/// The members of an object the core reads: their names, packed into one string, where each
/// name ends in it, and the field an error about each one names. Made by [`members!`]: two
/// bytes per member beside its name, where a slice and a field took twelve on a device.
pub(crate) struct MemberTable {
    pub(crate) names: &'static str,
    pub(crate) ends: &'static [u8],
    pub(crate) fields: &'static [Field],
}

impl MemberTable {
    /// The position of the member called `name`.
    fn position(&self, name: &[u8]) -> Option<usize> {
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            let end = usize::from(end);
            // Lengths first: most names differ in length, and then no bytes are compared.
            if end.saturating_sub(start) == name.len()
                && self.names.as_bytes().get(start..end) == Some(name)
            {
                return Some(i);
            }
            start = end;
        }
        None
    }

    /// The field of member `i`, or `or`.
    fn field(&self, i: usize, or: Field) -> Field {
        self.fields.get(i).copied().unwrap_or(or)
    }
}

/// Where each of names of lengths `lens` ends, packed one after another (at most 255 bytes in
/// all, which the compiler checks).
// Indexing: only ever evaluated by the compiler (tables are constants), where `i < N` holds and
// `get_mut` is not a `const fn`.
#[allow(clippy::indexing_slicing)]
pub(crate) const fn ends<const N: usize>(lens: [usize; N]) -> [u8; N] {
    let mut out = [0u8; N];
    let (mut i, mut end) = (0, 0);
    while i < N {
        end += lens[i];
        assert!(end <= u8::MAX as usize, "member names over 255 bytes");
        out[i] = end as u8;
        i += 1;
    }
    out
}

/// A [`MemberTable`] of `("name", field)` pairs, in the order members are numbered.
macro_rules! members {
    ($(($name:literal, $field:expr)),* $(,)?) => {
        &$crate::json::read::MemberTable {
            names: concat!($($name),*),
            ends: &$crate::json::read::ends([$($name.len()),*]),
            fields: &[$($field),*],
        }
    };
}
pub(crate) use members;

/// Longest member name the core knows (`consistent_snapshot`).
const LONGEST_MEMBER: usize = 20;

/// The bit of [`record`]'s result that says members other than the known ones were present.
pub(crate) const OTHERS: u32 = 1 << 31;

/// Reads member `i` of a [`record`]'s table.
pub(crate) type EachMember<'e, S, K> = dyn FnMut(&mut Lexer<S, K>, usize) -> Result<()> + 'e;
/// Reads one value of a [`map`], given its key (`None` when longer than the key buffer).
pub(crate) type EachEntry<'e, S, K> = dyn FnMut(&mut Lexer<S, K>, Option<&[u8]>) -> Result<()> + 'e;
/// Reads one element of a [`list`].
pub(crate) type EachItem<'e, S, K> = dyn FnMut(&mut Lexer<S, K>) -> Result<()> + 'e;

/// Reads an object whose members the core knows, `members` (others are skipped, and still
/// covered by the signatures): `each(lx, i)` reads the value of `members[i]`. A known member
/// may appear once; the `required` ones (bits over `members`) must all appear. An error names
/// the member's field unless a deeper one is named already, and `object` when the value is not
/// an object. Returns the members seen, as bits, and [`OTHERS`].
pub(crate) fn record<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    object: Field,
    members: &MemberTable,
    required: u32,
    each: &mut EachMember<'_, S, K>,
) -> Result<u32> {
    let mut obj = Object::begin(lx, object, members)?;
    while let Some(i) = obj.next(lx)? {
        obj.value(each(lx, i))?;
    }
    obj.end(required)
}

/// [`record`] as a loop in its caller: `while let Some(i) = obj.next(lx)? { .. }` reads the
/// value of `members[i]` in the caller's own frame, with no closure. On a device the deepest
/// reads (a key inside a key set inside `signed`) then stack one frame per object instead of
/// three.
pub(crate) struct Object<'m> {
    object: Field,
    members: &'m MemberTable,
    seen: u32,
    /// The field of the member being read.
    current: Field,
}

impl<'m> Object<'m> {
    /// Opens the object (an error names `object` when the value is not one).
    #[inline]
    pub(crate) fn begin<S: Source, K: Canon>(
        lx: &mut Lexer<S, K>,
        object: Field,
        members: &'m MemberTable,
    ) -> Result<Self> {
        lx.begin_object().map_err(|e| e.in_field(object))?;
        Ok(Self {
            object,
            members,
            seen: 0,
            current: object,
        })
    }

    /// The next known member's position in `members`, its value to be read next; `None` at
    /// the end of the object. Members the core does not know are skipped; a known one twice is
    /// refused. Out of line on a device (one copy; its frame is gone when the value is read);
    /// inlined on a host, where it runs for every member of every object.
    #[cfg_attr(otuf_small, inline(never))]
    #[cfg_attr(not(otuf_small), inline)]
    pub(crate) fn next<S: Source, K: Canon>(
        &mut self,
        lx: &mut Lexer<S, K>,
    ) -> Result<Option<usize>> {
        while let Some(member) = next_member(lx, self.members)? {
            let Some(i) = member else {
                self.seen |= OTHERS;
                lx.skip()?;
                continue;
            };
            self.current = self.members.field(i, self.object);
            if self.seen & (1 << i) != 0 {
                return Err(Fault::new(ErrorKind::DuplicateKey, self.current));
            }
            self.seen |= 1 << i;
            return Ok(Some(i));
        }
        Ok(None)
    }

    /// What reading the current member's value gave, an error naming the member's field.
    #[inline]
    pub(crate) fn value<T>(&self, read: Result<T>) -> Result<T> {
        read.map_err(|e| e.in_field(self.current))
    }

    /// Requires the `required` members (bits over `members`); the members seen, as bits, and
    /// [`OTHERS`].
    #[inline]
    pub(crate) fn end(&self, required: u32) -> Result<u32> {
        let missing = required & !self.seen & !OTHERS;
        if missing != 0 {
            let first = missing.trailing_zeros() as usize;
            let field = self.members.field(first, self.object);
            return Err(Fault::new(ErrorKind::MissingField, field));
        }
        Ok(self.seen)
    }
}

/// Reads the next member's name: `None` at the end of the object, else its position in
/// `members` (`None` for a member the core does not know). Out of line: the name's buffer is on
/// the stack only while it is read, not under every nested object's value (on a device; a
/// host inlines it, since it runs once per member).
#[cfg_attr(otuf_small, inline(never))]
fn next_member<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    members: &MemberTable,
) -> Result<Option<Option<usize>>> {
    let mut name = Text::<LONGEST_MEMBER>::default();
    if !lx.next_key(&mut name.out())? {
        return Ok(None);
    }
    Ok(Some(name.get().and_then(|n| members.position(n))))
}

/// Reads an object whose keys are data (key IDs, role and file names, paths): each key is
/// decoded into `key` (cleared first), then `each` reads its value. Errors name `object`.
pub(crate) fn map<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    object: Field,
    mut key: &mut TextOf<[u8]>,
    each: &mut EachEntry<'_, S, K>,
) -> Result<()> {
    let inner = |e: Fault| e.in_field(object);
    lx.begin_object().map_err(inner)?;
    loop {
        key.clear();
        if !lx.next_key(&mut key).map_err(inner)? {
            return Ok(());
        }
        each(lx, key.get()).map_err(inner)?;
    }
}

/// Reads an array, `each` reading every element. Errors name `array`.
pub(crate) fn list<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    array: Field,
    each: &mut EachItem<'_, S, K>,
) -> Result<()> {
    let inner = |e: Fault| e.in_field(array);
    lx.begin_array().map_err(inner)?;
    while lx.next_item().map_err(inner)? {
        each(lx).map_err(inner)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::lexer::NoCanon;
    use crate::json::source::SliceSource;

    const MEMBERS: &MemberTable = members![("a", Field::Keys), ("b", Field::Roles)];

    fn read(json: &str) -> crate::Result<(u32, u64)> {
        let mut lx = Lexer::new(SliceSource::new(json.as_bytes()), NoCanon);
        let mut sum = 0;
        let seen = record(&mut lx, Field::Signed, MEMBERS, 0b01, &mut |lx, _| {
            sum += lx.uint()?;
            Ok(())
        })
        .map_err(|f| lx.error(f))?;
        Ok((seen, sum))
    }

    #[test]
    fn members_once_required_ones_present_and_errors_name_the_field() {
        assert_eq!(
            read(r#"{"a":1,"x":{"y":[]},"b":2}"#),
            Ok((0b11 | OTHERS, 3))
        );
        assert_eq!(read(r#"{"a":1}"#), Ok((0b01, 1)));
        let e = read(r#"{"b":1}"#).unwrap_err();
        assert_eq!((e.kind(), e.field()), (ErrorKind::MissingField, "keys"));
        let e = read(r#"{"a":1,"a":2}"#).unwrap_err();
        assert_eq!((e.kind(), e.field()), (ErrorKind::DuplicateKey, "keys"));
        let e = read(r#"{"a":1,"b":"x"}"#).unwrap_err();
        assert_eq!((e.kind(), e.field()), (ErrorKind::WrongType, "roles"));
        let e = read("[]").unwrap_err();
        assert_eq!((e.kind(), e.field()), (ErrorKind::WrongType, "signed"));
    }
}
