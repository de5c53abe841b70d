//! Issue 6: owner signatures supplied with a submission are checked against the Safe's owners
//! and reported: a valid owner signature by owner, a stranger's as not counting, with why.

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use signgate_proto::v1 as pb;
use signgate_simulator::{SafeContext, SafeVersion, safe_tx_hash};

use crate::{
    demo,
    support::{
        Options, approve, start, start_with_signers, state, submission, submit_request,
        token_transfer,
    },
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supplied_signatures_name_the_owner_and_the_stranger() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;

    let tx = token_transfer(demo::PAYEE, U256::from(5u64), 0);
    let hash = safe_tx_hash(
        &SafeContext {
            chain_id: 1,
            safe: demo::DEMO_SAFE,
            version: SafeVersion::V1_4_1,
        },
        &tx,
    );
    let owner = demo::owners()[0].clone();
    let stranger =
        PrivateKeySigner::from_bytes(&alloy_primitives::B256::repeat_byte(0x77)).unwrap();
    let mut parts: Vec<(Address, Vec<u8>)> = [&owner, &stranger]
        .iter()
        .map(|k| {
            (
                k.address(),
                k.sign_hash_sync(&hash).unwrap().as_bytes().to_vec(),
            )
        })
        .collect();
    parts.sort_by_key(|(a, _)| *a);
    let mut sub = submission(demo::DEMO_SAFE, &tx);
    sub.signatures = parts.iter().flat_map(|(_, s)| s.clone()).collect();
    let p = c
        .submit_proposal(submit_request(&sub, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        p.hashes.as_ref().unwrap().safe_tx_hash,
        format!("{hash:#x}")
    );

    let supplied = &p.supplied_signatures;
    assert_eq!(supplied.len(), 2, "{supplied:?}");
    let of = |who: Address| {
        supplied
            .iter()
            .find(|s| s.signer == who.to_checksum(None))
            .unwrap_or_else(|| panic!("{who} not reported: {supplied:?}"))
    };
    let o = of(owner.address());
    assert!(o.valid && o.problem.is_empty(), "{o:?}");
    let s = of(stranger.address());
    assert!(!s.valid, "{s:?}");
    assert!(s.problem.contains("owner"), "{s:?}");

    // One valid owner signature does not meet the threshold of 2: the run used overrides.
    assert_eq!(
        p.simulation.as_ref().unwrap().signatures,
        "approved_hash_overrides"
    );

    // A later read shows the same report: it is part of the stored proposal.
    let again = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.supplied_signatures, p.supplied_signatures);

    drop(c);
    gw.stop().await;
}

/// Valid signatures of threshold-many owners are exactly what execution would run: the
/// submission's simulation runs them unmodified, and it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_meeting_the_threshold_are_simulated_unmodified() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;

    let tx = token_transfer(demo::PAYEE, U256::from(6u64), 0);
    let hash = safe_tx_hash(
        &SafeContext {
            chain_id: 1,
            safe: demo::DEMO_SAFE,
            version: SafeVersion::V1_4_1,
        },
        &tx,
    );
    let owners = demo::owners();
    let mut sub = submission(demo::DEMO_SAFE, &tx);
    sub.signatures = owners
        .iter()
        .take(usize::try_from(demo::THRESHOLD).unwrap())
        .flat_map(|k| k.sign_hash_sync(&hash).unwrap().as_bytes().to_vec())
        .collect();
    let p = c
        .submit_proposal(submit_request(&sub, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    assert!(
        p.supplied_signatures.iter().all(|s| s.valid),
        "{:?}",
        p.supplied_signatures
    );
    let sim = p.simulation.as_ref().unwrap();
    assert!(sim.success, "{sim:?}");
    assert_eq!(sim.signatures, "supplied");

    drop(c);
    gw.stop().await;
}

/// A valid owner signature supplied with the submission is packed at release together with
/// the signer backends' signatures: one per owner, owner-sorted, each over the released hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplied_owner_signature_is_packed_with_the_backends_at_release() {
    let dir = tempfile::tempdir().unwrap();
    let owners = demo::owners();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 1]).await;
    let mut c = gw.client().await;

    let tx = token_transfer(demo::PAYEE, U256::from(7u64), 0);
    let hash = safe_tx_hash(
        &SafeContext {
            chain_id: 1,
            safe: demo::DEMO_SAFE,
            version: SafeVersion::V1_4_1,
        },
        &tx,
    );
    let mut sub = submission(demo::DEMO_SAFE, &tx);
    sub.signatures = owners[2].sign_hash_sync(&hash).unwrap().as_bytes().to_vec();
    let p = c
        .submit_proposal(submit_request(&sub, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    assert!(
        p.supplied_signatures[0].valid,
        "{:?}",
        p.supplied_signatures
    );
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);
    let resp = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.signatures.len(),
        3 * 65,
        "two backends and the supplied one"
    );
    let signers: Vec<Address> = resp
        .signatures
        .chunks(65)
        .map(|part| {
            alloy_primitives::Signature::from_raw(part)
                .unwrap()
                .recover_address_from_prehash(&hash)
                .unwrap()
        })
        .collect();
    let mut expected: Vec<Address> = owners.iter().map(|k| k.address()).collect();
    expected.sort();
    assert_eq!(signers, expected, "one per owner, owner-sorted");

    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}
