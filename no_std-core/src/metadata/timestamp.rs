//! `timestamp.json`: the current snapshot's version (and length and hashes).

use super::{signed_members, Body, Common, MetaFile};
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{map, MemberTable};
use crate::json::source::Source;
use crate::json::Text;

/// A timestamp role's trusted content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// `version` and `expires`.
    pub common: Common,
    /// `meta["snapshot.json"]`.
    pub snapshot_meta: MetaFile,
}

#[derive(Default)]
pub(crate) struct TimestampBody {
    pub(crate) snapshot: Option<MetaFile>,
}

impl Body for TimestampBody {
    const TYPE: &'static [u8] = b"timestamp";
    const MEMBERS: &'static MemberTable = signed_members![("meta", Field::Meta)];
    const REQUIRED: u32 = 0b1_0000;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, _: usize) -> Result<()> {
        map(
            lx,
            Field::Meta,
            Text::<16>::default().out(),
            &mut |lx, name| {
                if name == Some(b"snapshot.json") {
                    self.snapshot = Some(MetaFile::parse(lx)?);
                    Ok(())
                } else {
                    lx.skip()
                }
            },
        )
    }

    fn finish(&mut self) -> Result<()> {
        match self.snapshot {
            Some(_) => Ok(()),
            None => Err(Fault::new(ErrorKind::MissingField, Field::MetaSnapshot)),
        }
    }
}
