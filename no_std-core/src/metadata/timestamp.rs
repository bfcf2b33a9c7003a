//! `timestamp.json`: the current snapshot's version (and length and hashes).

use super::{Body, Common, MetaFile};
use crate::error::{Error, ErrorKind, Result};
use crate::json::lexer::{Canon, Lexer};
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

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, key: &[u8]) -> Result<bool> {
        if key != b"meta" {
            return Ok(false);
        }
        let mut name = Text::<16>::default();
        lx.begin_object().map_err(|e| e.in_field("meta"))?;
        while lx.next_member(&mut name)? {
            if name.is(b"snapshot.json") {
                self.snapshot = Some(MetaFile::parse(lx)?);
            } else {
                lx.skip()?;
            }
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        self.snapshot
            .as_ref()
            .map(|_| ())
            .ok_or(Error::new(ErrorKind::MissingField, "meta.snapshot.json"))
    }
}
