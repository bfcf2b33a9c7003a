//! `targets.json` and delegated targets roles, read with one target path in mind: its target
//! file info, if listed, and the roles its search continues with.

use super::delegation::{self, Matches};
use super::{Body, Common, TargetFile};
use crate::error::Result;
use crate::json::lexer::{Canon, Lexer};
use crate::json::source::Source;
use crate::json::Text;
use crate::limits::MAX_PATH;

/// A targets role's content, as it matters to one target path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targets {
    /// `version` and `expires`.
    pub common: Common,
    /// The searched target's info, when this role lists it.
    pub target: Option<TargetFile>,
    /// The roles the search continues with (empty without `delegations`).
    pub delegations: Matches,
}

/// Reads into the caller's storage (a search's own slots), so nothing is copied out after.
pub(crate) struct TargetsBody<'p> {
    path: Option<&'p str>,
    target: &'p mut Option<TargetFile>,
    delegations: &'p mut Matches,
    has_targets: bool,
}

impl<'p> TargetsBody<'p> {
    pub(crate) fn new(
        path: Option<&'p str>,
        target: &'p mut Option<TargetFile>,
        delegations: &'p mut Matches,
    ) -> Self {
        *target = None;
        Self {
            path,
            target,
            delegations,
            has_targets: false,
        }
    }
}

impl Body for TargetsBody<'_> {
    const TYPE: &'static [u8] = b"targets";

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, key: &[u8]) -> Result<bool> {
        match key {
            b"targets" => {
                self.has_targets = true;
                let mut name = Text::<MAX_PATH>::default();
                lx.begin_object().map_err(|e| e.in_field("targets"))?;
                while lx.next_member(&mut name)? {
                    let wanted = self.path.is_some_and(|p| name.is(p.as_bytes()));
                    // Every entry is validated; only the searched one is kept, read in place.
                    let keep = wanted.then(|| self.target.insert(TargetFile::default()));
                    TargetFile::read(lx, keep)?;
                }
            }
            b"delegations" => {
                delegation::parse_into(lx, delegation::Select::Path(self.path), self.delegations)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        if !self.has_targets {
            return Err(crate::Error::new(crate::ErrorKind::MissingField, "targets"));
        }
        Ok(())
    }
}
