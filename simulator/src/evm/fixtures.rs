//! Runtime code of the real Safe contracts, embedded from `simulator/fixtures/safe` (see its
//! PROVENANCE.md), so that snapshots can name code (`"codeFixture": "v1.4.1/Safe"`) and the
//! gateway's embedded demo runs without files.

use std::{collections::HashMap, sync::OnceLock};

use alloy_primitives::Bytes;
use serde::Deserialize;

/// Fixture name (`"<version folder>/<contract>"`) and the artifact JSON it comes from.
const FIXTURES: &[(&str, &str)] = &[
    (
        "v1.1.1/GnosisSafe",
        include_str!("../../fixtures/safe/v1.1.1/GnosisSafe.json"),
    ),
    (
        "v1.1.1/MultiSend",
        include_str!("../../fixtures/safe/v1.1.1/MultiSend.json"),
    ),
    (
        "v1.1.1/Proxy",
        include_str!("../../fixtures/safe/v1.1.1/Proxy.json"),
    ),
    (
        "v1.3.0/CompatibilityFallbackHandler",
        include_str!("../../fixtures/safe/v1.3.0/CompatibilityFallbackHandler.json"),
    ),
    (
        "v1.3.0/GnosisSafe",
        include_str!("../../fixtures/safe/v1.3.0/GnosisSafe.json"),
    ),
    (
        "v1.3.0/GnosisSafeL2",
        include_str!("../../fixtures/safe/v1.3.0/GnosisSafeL2.json"),
    ),
    (
        "v1.3.0/GnosisSafeProxy",
        include_str!("../../fixtures/safe/v1.3.0/GnosisSafeProxy.json"),
    ),
    (
        "v1.3.0/MultiSend",
        include_str!("../../fixtures/safe/v1.3.0/MultiSend.json"),
    ),
    (
        "v1.3.0/MultiSendCallOnly",
        include_str!("../../fixtures/safe/v1.3.0/MultiSendCallOnly.json"),
    ),
    (
        "v1.3.0/SimulateTxAccessor",
        include_str!("../../fixtures/safe/v1.3.0/SimulateTxAccessor.json"),
    ),
    (
        "v1.4.1/CompatibilityFallbackHandler",
        include_str!("../../fixtures/safe/v1.4.1/CompatibilityFallbackHandler.json"),
    ),
    (
        "v1.4.1/MultiSend",
        include_str!("../../fixtures/safe/v1.4.1/MultiSend.json"),
    ),
    (
        "v1.4.1/MultiSendCallOnly",
        include_str!("../../fixtures/safe/v1.4.1/MultiSendCallOnly.json"),
    ),
    (
        "v1.4.1/Safe",
        include_str!("../../fixtures/safe/v1.4.1/Safe.json"),
    ),
    (
        "v1.4.1/SafeL2",
        include_str!("../../fixtures/safe/v1.4.1/SafeL2.json"),
    ),
    (
        "v1.4.1/SafeProxy",
        include_str!("../../fixtures/safe/v1.4.1/SafeProxy.json"),
    ),
    (
        "v1.4.1/SignMessageLib",
        include_str!("../../fixtures/safe/v1.4.1/SignMessageLib.json"),
    ),
    (
        "v1.4.1/SimulateTxAccessor",
        include_str!("../../fixtures/safe/v1.4.1/SimulateTxAccessor.json"),
    ),
    (
        "v1.5.0/CompatibilityFallbackHandler",
        include_str!("../../fixtures/safe/v1.5.0/CompatibilityFallbackHandler.json"),
    ),
    (
        "v1.5.0/MultiSend",
        include_str!("../../fixtures/safe/v1.5.0/MultiSend.json"),
    ),
    (
        "v1.5.0/MultiSendCallOnly",
        include_str!("../../fixtures/safe/v1.5.0/MultiSendCallOnly.json"),
    ),
    (
        "v1.5.0/Safe",
        include_str!("../../fixtures/safe/v1.5.0/Safe.json"),
    ),
    (
        "v1.5.0/SafeL2",
        include_str!("../../fixtures/safe/v1.5.0/SafeL2.json"),
    ),
    (
        "v1.5.0/SafeProxy",
        include_str!("../../fixtures/safe/v1.5.0/SafeProxy.json"),
    ),
    (
        "v1.5.0/SignMessageLib",
        include_str!("../../fixtures/safe/v1.5.0/SignMessageLib.json"),
    ),
    (
        "v1.5.0/SimulateTxAccessor",
        include_str!("../../fixtures/safe/v1.5.0/SimulateTxAccessor.json"),
    ),
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Artifact {
    deployed_bytecode: Bytes,
}

fn table() -> &'static HashMap<&'static str, Bytes> {
    static TABLE: OnceLock<HashMap<&'static str, Bytes>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FIXTURES
            .iter()
            .filter_map(|(name, json)| {
                // The fixtures are checked by the unit test below; a broken one is simply
                // absent (and a snapshot naming it fails to load), never a panic.
                serde_json::from_str::<Artifact>(json)
                    .ok()
                    .map(|a| (*name, a.deployed_bytecode))
            })
            .collect()
    })
}

/// Runtime code of the fixture called `name` (e.g. `"v1.1.1/GnosisSafe"`, `"v1.4.1/SafeProxy"`).
pub fn code(name: &str) -> Option<Bytes> {
    table().get(name).cloned()
}

/// Every fixture name, for error messages and tests.
pub fn names() -> impl Iterator<Item = &'static str> {
    FIXTURES.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_parses_and_has_code() {
        for name in names() {
            assert!(code(name).is_some_and(|c| !c.is_empty()), "{name}");
        }
    }
}
