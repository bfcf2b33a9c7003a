//! Signing events, as a repository service runs them: offline keys sign a new root, or a new
//! version of a delegated targets role, one at a time, and before it is published the service
//! must know which signatures verify and whether the thresholds are met (for root its own and
//! the trusted root's, §5.3.4–5.3.5; for a delegated role its delegator's, §5.6.3). The checks
//! are the ones a client makes, from the same code.

use crate::crypto::{Key, KeyId};
use crate::error::{Result, RoleKind};
use crate::limits::MAX_ROLE_KEYS;
use crate::metadata::envelope::General;
use crate::metadata::root::RootBody;
use crate::metadata::targets::TargetsBody;
use crate::metadata::{Common, RoleKeys, Root};

/// Where a root signing event stands.
#[derive(Clone, Debug)]
pub struct RootSigning {
    /// The candidate root.
    pub root: Root,
    /// Key IDs (of the candidate's root role or the trusted root's) whose signature verifies.
    pub valid: heapless::Vec<KeyId, MAX_ROLE_KEYS>,
    /// The candidate's own root threshold is met.
    pub own_threshold: bool,
    /// The trusted root's root threshold is met (`None` when there is no trusted root: the
    /// first root of a repository only signs itself).
    pub trusted_threshold: Option<bool>,
}

impl RootSigning {
    /// Every threshold the candidate needs is met: it can be published.
    pub fn complete(&self) -> bool {
        self.own_threshold && self.trusted_threshold != Some(false)
    }
}

/// Reads candidate root metadata and checks its signatures against its own root role and, for
/// a root update, the trusted root's.
pub fn root_signing(candidate: &[u8], trusted: Option<&Root>) -> Result<RootSigning> {
    let in_root = |e: crate::Error| e.in_role(RoleKind::Root);
    let mut root = crate::metadata::Root::default();
    let mut body = RootBody::new(&mut root);
    let file = General::parse(candidate, &mut body).map_err(in_root)?;
    body.complete(file.common);
    let own = (root.keys.as_slice(), &root.root);
    let valid = match trusted {
        Some(t) => file.valid_signers(&[own, (t.keys.as_slice(), &t.root)]),
        None => file.valid_signers(&[own]),
    }
    .map_err(in_root)?;
    let own_threshold = crate::crypto::verifier_threshold(&root.keys, &root.root, &valid);
    let trusted_threshold =
        trusted.map(|t| crate::crypto::verifier_threshold(&t.keys, &t.root, &valid));
    Ok(RootSigning {
        root,
        valid,
        own_threshold,
        trusted_threshold,
    })
}

/// Where the signing of a delegated targets role stands.
#[derive(Clone, Debug)]
pub struct TargetsSigning {
    /// The candidate's `version` and `expires`.
    pub common: Common,
    /// Key IDs of the role whose signature verifies.
    pub valid: heapless::Vec<KeyId, MAX_ROLE_KEYS>,
    /// The role's threshold (as its delegator lists it) is met: it can be published.
    pub complete: bool,
}

/// Reads candidate targets metadata of a delegated role and checks its signatures against the
/// keys and threshold its delegator gives the role (`authority`).
pub fn targets_signing(candidate: &[u8], authority: (&[Key], &RoleKeys)) -> Result<TargetsSigning> {
    let in_role = |e: crate::Error| e.in_role(RoleKind::Delegated);
    let (mut target, mut delegations) = (None, crate::metadata::Matches::default());
    let mut body = TargetsBody::new(None, &mut target, Some(&mut delegations));
    let file = General::parse(candidate, &mut body).map_err(in_role)?;
    let valid = file.valid_signers(&[authority]).map_err(in_role)?;
    let complete = crate::crypto::verifier_threshold(authority.0, authority.1, &valid);
    Ok(TargetsSigning {
        common: file.common,
        valid,
        complete,
    })
}
