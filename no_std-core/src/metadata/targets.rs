//! `targets.json` and delegated targets roles, read with one target path in mind: its target
//! file info, if listed, and the roles its search continues with.

use super::delegation::{self, Keep, Matches};
use super::{signed_members, Body, Common, TargetFile};
use crate::error::fault::{Fault, Result};
use crate::error::Field;
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::MemberTable;
use crate::json::source::Source;
use crate::json::SameAs;

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
pub(crate) struct TargetsBody<'p, 'k> {
    path: Option<&'p str>,
    target: &'p mut Option<TargetFile>,
    /// Where the delegations go (without: only checked).
    delegations: Option<&'p mut (dyn Keep + 'k)>,
}

impl<'p, 'k> TargetsBody<'p, 'k> {
    pub(crate) fn new(
        path: Option<&'p str>,
        target: &'p mut Option<TargetFile>,
        delegations: Option<&'p mut (dyn Keep + 'k)>,
    ) -> Self {
        *target = None;
        Self {
            path,
            target,
            delegations,
        }
    }
}

impl Body for TargetsBody<'_, '_> {
    const TYPE: &'static [u8] = b"targets";
    const MEMBERS: &'static MemberTable = signed_members![
        ("delegations", Field::Delegations),
        ("targets", Field::Targets),
    ];
    const REQUIRED: u32 = 0b10_0000;

    fn member<S: Source, K: Canon>(&mut self, lx: &mut Lexer<S, K>, i: usize) -> Result<()> {
        if i == 4 {
            return delegation::parse_into(
                lx,
                delegation::Select::Path(self.path),
                self.delegations.as_deref_mut(),
            );
        }
        read_targets(lx, self.path, self.target)
    }
}

/// Reads the `targets` object, keeping only `path`'s entry. Out of line: its state is not on
/// the stack while the delegations are read. A loop, not a `map` callback, and each path only
/// compared with the one searched for: the entries are among the deepest reads.
#[inline(never)]
fn read_targets<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    path: Option<&str>,
    target: &mut Option<TargetFile>,
) -> Result<()> {
    let named = |e: Fault| e.in_field(Field::Targets);
    lx.begin_object().map_err(named)?;
    loop {
        let mut name = SameAs::new(path.map(str::as_bytes).unwrap_or_default());
        if !lx.next_key(&mut name).map_err(named)? {
            return Ok(());
        }
        let wanted = path.is_some() && name.is_same();
        // Every entry is validated; only the searched one is kept, read in place.
        let keep = wanted.then(|| target.insert(TargetFile::default()));
        TargetFile::read(lx, keep).map_err(named)?;
    }
}
