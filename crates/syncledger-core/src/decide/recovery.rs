//! G4: a write whose outcome the log does not know (a crash, a timeout, a lost answer), settled
//! before it is sent again.
//!
//! A create is never simply sent twice. In this order ([`recovery_steps`]):
//!
//! 1. **The link**: the target's echo may already have linked the record (G2): if the target
//!    still has it, that is the create's record ([`Resolution::ExistingLink`]).
//! 2. **The match keys**: a record in the target whose match keys give the create's fingerprint
//!    ([`record_matches`]) is the create's record ([`Resolution::LookupByMatchKeys`]).
//! 3. **The same request again**, with the same `Idempotency-Key`: a system that honours keys
//!    answers with the record it made the first time ([`Resolution::IdempotentRetry`]).
//!
//! An update or a delete is simply sent again: both are idempotent.

use crate::config::EntityConfig;
use crate::entity::{EntityState, Link, PendingWrite};
use crate::events::{Fields, Resolution, WriteOp};
use crate::mapping::match_fingerprint;

/// One way of settling a pending write, tried in order until one finds the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovery {
    /// Fetch the record the entity links in the target.
    Link(Link),
    /// Page through the target for a record with the create's match-key fingerprint.
    MatchKeys { fingerprint: String },
    /// Send the write (again) and take its answer, resolved as given.
    Send(Resolution),
}

impl Recovery {
    /// How a record this step found was resolved.
    pub fn resolution(&self) -> Resolution {
        match self {
            Recovery::Link(_) => Resolution::ExistingLink,
            Recovery::MatchKeys { .. } => Resolution::LookupByMatchKeys,
            Recovery::Send(resolution) => *resolution,
        }
    }
}

/// The steps that settle `pending`, in order.
pub fn recovery_steps(state: &EntityState, pending: &PendingWrite) -> Vec<Recovery> {
    let write = &pending.request;
    // No failure recorded: the request may have been answered without the log knowing.
    let send = match pending.retry_at {
        None => Resolution::IdempotentRetry,
        Some(_) => Resolution::Response,
    };
    let mut steps = Vec::new();
    if write.op == WriteOp::Create {
        if let Some(link) = state.links.get(&write.target_system) {
            steps.push(Recovery::Link(link.clone()));
        }
        if let Some(fingerprint) = write
            .match_fingerprint
            .as_deref()
            .and_then(|f| f.strip_prefix("keys:"))
        {
            steps.push(Recovery::MatchKeys {
                fingerprint: fingerprint.to_string(),
            });
        }
    }
    steps.push(Recovery::Send(send));
    steps
}

/// Whether a target record with canonical `fields` is the one a create with the match-key
/// `fingerprint` made.
pub fn record_matches(config: &EntityConfig, fingerprint: &str, fields: &Fields) -> bool {
    match_fingerprint(&config.match_keys, fields).as_deref() == Some(fingerprint)
}
