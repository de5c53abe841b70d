//! The generated deployments table against the safe-deployments fixture files it came from.

#![expect(
    clippy::panic,
    reason = "test helpers outside #[test] fns: a broken fixture must fail loudly"
)]

use std::collections::BTreeSet;

use alloy_primitives::{Address, B256};
use signgate_simulator::{
    SafeVersion,
    deployments::{self, DeploymentFlavor, SafeContract},
};

fn family(contract_name: &str) -> SafeContract {
    match contract_name {
        "GnosisSafe" | "Safe" => SafeContract::Singleton,
        "GnosisSafeL2" | "SafeL2" => SafeContract::SingletonL2,
        "MultiSend" => SafeContract::MultiSend,
        "MultiSendCallOnly" => SafeContract::MultiSendCallOnly,
        "SignMessageLib" => SafeContract::SignMessageLib,
        "CreateCall" => SafeContract::CreateCall,
        "SafeMigration" => SafeContract::SafeMigration,
        "SafeToL2Migration" => SafeContract::SafeToL2Migration,
        "SafeToL2Setup" => SafeContract::SafeToL2Setup,
        "CompatibilityFallbackHandler" => SafeContract::CompatibilityFallbackHandler,
        "DefaultCallbackHandler" => SafeContract::DefaultCallbackHandler,
        "ExtensibleFallbackHandler" => SafeContract::ExtensibleFallbackHandler,
        "TokenCallbackHandler" => SafeContract::TokenCallbackHandler,
        "SimulateTxAccessor" => SafeContract::SimulateTxAccessor,
        "ProxyFactory" | "GnosisSafeProxyFactory" | "SafeProxyFactory" => {
            SafeContract::ProxyFactory
        }
        "CreateAndAddModules" => SafeContract::CreateAndAddModules,
        other => panic!("fixture names an unknown contract {other}"),
    }
}

type Row = (
    SafeContract,
    SafeVersion,
    DeploymentFlavor,
    Address,
    Option<B256>,
);

#[test]
fn deployments_match_fixtures() {
    let root = format!("{}/fixtures/safe/deployments", env!("CARGO_MANIFEST_DIR"));
    let mut from_files: BTreeSet<String> = BTreeSet::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let contract = family(json["contractName"].as_str().unwrap());
            let version: SafeVersion = json["version"].as_str().unwrap().parse().unwrap();
            for (flavor, entry) in json["deployments"].as_object().unwrap() {
                let flavor = match flavor.as_str() {
                    "canonical" => DeploymentFlavor::Canonical,
                    "eip155" => DeploymentFlavor::Eip155,
                    "zksync" => DeploymentFlavor::Zksync,
                    other => panic!("unknown flavour {other} in {}", path.display()),
                };
                let row: Row = (
                    contract,
                    version,
                    flavor,
                    entry["address"].as_str().unwrap().parse().unwrap(),
                    entry["codeHash"].as_str().map(|h| h.parse().unwrap()),
                );
                from_files.insert(format!("{row:?}"));
            }
        }
    }
    let from_table: BTreeSet<String> = deployments::all()
        .iter()
        .map(|d| {
            format!(
                "{:?}",
                (d.contract, d.version, d.flavor, d.address, d.code_hash) as Row
            )
        })
        .collect();
    assert_eq!(
        from_table.len(),
        deployments::all().len(),
        "duplicate rows in the table"
    );
    let missing: Vec<_> = from_files.difference(&from_table).collect();
    let extra: Vec<_> = from_table.difference(&from_files).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from table: {missing:#?}\nnot in fixtures: {extra:#?}"
    );
}

#[test]
fn every_batch_deployment_is_recognised_by_address() {
    for d in deployments::of(SafeContract::MultiSendCallOnly)
        .chain(deployments::of(SafeContract::MultiSend))
    {
        let found = deployments::lookup(d.address).unwrap();
        assert!(found.contract.is_batch());
        assert_eq!(
            found.batch_zero_to_is_self(),
            d.version >= SafeVersion::V1_5_0
        );
    }
}
