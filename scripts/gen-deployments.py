#!/usr/bin/env python3
"""Regenerates simulator/src/deployments/table.rs from simulator/fixtures/safe/deployments.

Run from the repository root. The `deployments_match_fixtures` test checks the table against the
same fixture files, so a stale table fails CI.
"""
import glob
import json

VERSIONS = {'v1.0.0': 'V1_0_0', 'v1.1.1': 'V1_1_1', 'v1.2.0': 'V1_2_0', 'v1.3.0': 'V1_3_0',
            'v1.4.1': 'V1_4_1', 'v1.5.0': 'V1_5_0'}
KINDS = {'GnosisSafe': 'Singleton', 'Safe': 'Singleton', 'GnosisSafeL2': 'SingletonL2',
         'SafeL2': 'SingletonL2', 'MultiSend': 'MultiSend', 'MultiSendCallOnly': 'MultiSendCallOnly',
         'SignMessageLib': 'SignMessageLib', 'CreateCall': 'CreateCall',
         'SafeMigration': 'SafeMigration', 'SafeToL2Migration': 'SafeToL2Migration',
         'SafeToL2Setup': 'SafeToL2Setup',
         'CompatibilityFallbackHandler': 'CompatibilityFallbackHandler',
         'DefaultCallbackHandler': 'DefaultCallbackHandler',
         'ExtensibleFallbackHandler': 'ExtensibleFallbackHandler',
         'TokenCallbackHandler': 'TokenCallbackHandler', 'SimulateTxAccessor': 'SimulateTxAccessor',
         'ProxyFactory': 'ProxyFactory', 'GnosisSafeProxyFactory': 'ProxyFactory',
         'SafeProxyFactory': 'ProxyFactory', 'CreateAndAddModules': 'CreateAndAddModules'}

rows = []
for path in sorted(glob.glob('simulator/fixtures/safe/deployments/v*/*.json')):
    doc = json.load(open(path))
    version = path.split('/')[-2]
    for flavor, dep in doc['deployments'].items():
        rows.append((KINDS[doc['contractName']], VERSIONS[version], flavor.capitalize(),
                     dep['address'], dep.get('codeHash')))

out = [
    "//! Canonical Safe deployments, generated from `fixtures/safe/deployments` (safe-deployments 1.37.63).",
    "//!",
    "//! Regenerate with `scripts/gen-deployments.py`; the `deployments_match_fixtures` test fails when",
    "//! this table and the fixture files disagree.",
    "",
    "use alloy_primitives::{address, b256};",
    "",
    "use super::{Deployment, DeploymentFlavor, SafeContract};",
    "use crate::version::SafeVersion;",
    "",
    "/// Every deployment listed in the fixtures, one row per (contract, version, flavour).",
    "#[rustfmt::skip]",
    "pub(super) const DEPLOYMENTS: &[Deployment] = &[",
]
for kind, ver, flavor, addr, code_hash in rows:
    ch = f'Some(b256!("{code_hash}"))' if code_hash else 'None'
    out.append(f'    Deployment {{ contract: SafeContract::{kind}, version: SafeVersion::{ver}, '
               f'flavor: DeploymentFlavor::{flavor}, address: address!("{addr}"), code_hash: {ch} }},')
out.append("];")
open('simulator/src/deployments/table.rs', 'w').write("\n".join(out) + "\n")
print(f"{len(rows)} deployments written")
