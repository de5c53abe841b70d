//! What a new policy changes about the people: one [`OperatorChanged`] record per difference
//! between the operators of the policy in force and those of the new one.
//!
//! Keys are compared by their public bytes: a key only in the new policy is enrolled, a key
//! that disappears or gains a revocation is revoked. Roles and teams together are the groups
//! an operator approves for; wallet assignments are reported with them.

use signgate_audit::record::{OperatorChange, OperatorChanged};
use signgate_policy::{
    Policy, PolicyHash,
    operators::{Operator, OperatorKey},
};

fn words(list: &[impl std::fmt::Display]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn wallets(op: &Operator) -> String {
    op.wallets
        .as_ref()
        .map_or_else(|| "every wallet".to_owned(), |w| words(w))
}

fn record(
    op: &Operator,
    change: OperatorChange,
    key: Option<&OperatorKey>,
    detail: String,
    hash: PolicyHash,
) -> OperatorChanged {
    OperatorChanged {
        operator: op.id.to_string(),
        change,
        public_key: key.map(|k| k.public_key),
        detail,
        policy_hash: Some(hash),
    }
}

/// Every operator difference from `old` to `new`, in the new policy's operator order (removed
/// operators last).
pub fn operator_changes(old: &Policy, new: &Policy) -> Vec<OperatorChanged> {
    let hash = new.hash();
    let mut out = Vec::new();
    for op in new.operators() {
        let Some(before) = old.operator(&op.id) else {
            out.push(record(
                op,
                OperatorChange::Added,
                None,
                format!(
                    "{} added ({}; roles {}; teams {}; {} key(s); wallets: {})",
                    op.name,
                    op.status,
                    words(&op.roles),
                    words(&op.teams),
                    op.keys.len(),
                    wallets(op)
                ),
                hash,
            ));
            for k in &op.keys {
                out.push(record(
                    op,
                    OperatorChange::KeyEnrolled,
                    Some(k),
                    format!("key {} enrolled at {}", k.public_key, k.enrolled_at),
                    hash,
                ));
            }
            continue;
        };
        if before.status != op.status {
            out.push(record(
                op,
                OperatorChange::StatusChanged,
                None,
                format!("status {} → {}", before.status, op.status),
                hash,
            ));
        }
        if before.roles != op.roles || before.teams != op.teams || before.wallets != op.wallets {
            out.push(record(
                op,
                OperatorChange::RolesChanged,
                None,
                format!(
                    "roles {} → {}; teams {} → {}; wallets {} → {}",
                    words(&before.roles),
                    words(&op.roles),
                    words(&before.teams),
                    words(&op.teams),
                    wallets(before),
                    wallets(op)
                ),
                hash,
            ));
        }
        for k in &op.keys {
            match before.key(&k.public_key) {
                None => out.push(record(
                    op,
                    OperatorChange::KeyEnrolled,
                    Some(k),
                    format!("key {} enrolled at {}", k.public_key, k.enrolled_at),
                    hash,
                )),
                Some(prev) if prev.revoked_at != k.revoked_at => {
                    let detail = k.revoked_at.map_or_else(
                        || format!("revocation of key {} withdrawn", k.public_key),
                        |at| format!("key {} revoked at {at}", k.public_key),
                    );
                    out.push(record(
                        op,
                        OperatorChange::KeyRevoked,
                        Some(k),
                        detail,
                        hash,
                    ));
                }
                Some(_) => {}
            }
        }
        for k in before
            .keys
            .iter()
            .filter(|k| op.key(&k.public_key).is_none())
        {
            out.push(record(
                op,
                OperatorChange::KeyRevoked,
                Some(k),
                format!("key {} removed from the policy", k.public_key),
                hash,
            ));
        }
    }
    for op in old
        .operators()
        .iter()
        .filter(|o| new.operator(&o.id).is_none())
    {
        out.push(record(
            op,
            OperatorChange::Removed,
            None,
            format!("{} removed; their approvals no longer count", op.name),
            hash,
        ));
    }
    out
}

/// An operator change in plain words, for the `ApplyPolicy` response and the CLI.
pub fn describe(c: &OperatorChanged) -> String {
    format!("operator {}: {}", c.operator, c.detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../config/demo/policy.toml");

    #[test]
    fn every_kind_of_operator_difference_is_reported() {
        let old = Policy::compile(DEMO).unwrap();
        let source = DEMO
            .replace(
                "name = \"Bob (demo treasury)\"\nroles = [\"treasury\"]",
                "name = \"Bob (demo treasury)\"\nroles = [\"treasury\", \"security\"]",
            )
            .replace(
                "name = \"Carol (demo treasury)\"\nroles = [\"treasury\"]",
                "name = \"Carol (demo treasury)\"\nroles = [\"treasury\"]\nstatus = \"suspended\"",
            );
        // Mallory leaves.
        let start = source.find("# Hired recently").unwrap();
        let end = source.find("[[address_book]]").unwrap();
        let source = format!("{}{}", &source[..start], &source[end..]);
        let new = Policy::compile(&source).unwrap();
        let changes = operator_changes(&old, &new);
        let kinds: Vec<(&str, OperatorChange)> = changes
            .iter()
            .map(|c| (c.operator.as_str(), c.change))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("bob", OperatorChange::RolesChanged),
                ("carol", OperatorChange::StatusChanged),
                ("mallory", OperatorChange::Removed),
            ],
            "{changes:?}"
        );
        assert!(changes.iter().all(|c| c.policy_hash == Some(new.hash())));
        assert!(operator_changes(&old, &old).is_empty());
    }
}
