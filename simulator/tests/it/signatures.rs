//! The signature checker against hand-built blobs: every rule of `checkNSignatures`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a broken fixture must fail loudly"
)]

use alloy_primitives::{Address, B256, Bytes, Signature, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use signgate_simulator::{
    SafeContext, SafeTx, SafeVersion,
    constants::SENTINEL,
    hash::{SafeTxHashes, safe_tx_hashes},
    signature::{
        CheckFailure, OwnerSignature, PackError, SignatureCheck, SignatureFault, SignatureKind,
        check_n_signatures, check_signatures, pack_signatures, split_signatures,
    },
};

const SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");

fn hashes(version: SafeVersion) -> SafeTxHashes {
    let ctx = SafeContext {
        chain_id: 1,
        safe: SAFE,
        version,
    };
    safe_tx_hashes(
        &ctx,
        &SafeTx::call(
            Address::repeat_byte(9),
            U256::from(1),
            Bytes::new(),
            U256::from(4),
        ),
    )
}

fn signers(n: u8) -> Vec<PrivateKeySigner> {
    let mut keys: Vec<PrivateKeySigner> = (1..=n)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
        .collect();
    keys.sort_by_key(|k| k.address());
    keys
}

fn ecdsa(key: &PrivateKeySigner, h: &SafeTxHashes) -> (Address, OwnerSignature) {
    (
        key.address(),
        OwnerSignature::Ecdsa(key.sign_hash_sync(&h.safe_tx_hash).unwrap()),
    )
}

fn eth_sign(key: &PrivateKeySigner, h: &SafeTxHashes) -> (Address, OwnerSignature) {
    (
        key.address(),
        OwnerSignature::EthSign(key.sign_message_sync(h.safe_tx_hash.as_slice()).unwrap()),
    )
}

/// Concatenates parts as given, without sorting.
fn raw(parts: &[(Address, OwnerSignature)]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|p| pack_signatures(std::slice::from_ref(p)).unwrap().to_vec())
        .collect()
}

fn run(
    version: SafeVersion,
    h: &SafeTxHashes,
    blob: &[u8],
    owners: &[Address],
    threshold: u64,
) -> signgate_simulator::signature::SignatureCheckReport {
    let check = SignatureCheck::for_safe_tx(version, h, blob, owners, Address::ZERO);
    check_signatures(&check, U256::from(threshold), |_| false, |_| false)
}

fn first_fault(
    report: &signgate_simulator::signature::SignatureCheckReport,
) -> Option<SignatureFault> {
    match &report.failure {
        Some(CheckFailure::Signature { fault, .. }) => Some(fault.clone()),
        _ => None,
    }
}

#[test]
fn packed_blobs_of_every_kind_are_accepted() {
    let h = hashes(SafeVersion::V1_3_0);
    let keys = signers(3);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let blob = pack_signatures(&[
        eth_sign(&keys[2], &h),
        ecdsa(&keys[0], &h),
        ecdsa(&keys[1], &h),
    ])
    .unwrap();
    let report = run(SafeVersion::V1_3_0, &h, &blob, &owners, 3);
    assert!(report.accepted(), "{:?}", report.failure);
    assert_eq!(report.valid_signers().collect::<Vec<_>>(), owners);
    assert_eq!(report.signatures[2].kind, SignatureKind::EthSign);
    assert_eq!(split_signatures(&blob, 3).unwrap().len(), 3);
}

#[test]
fn order_duplicates_and_membership_follow_gs026() {
    let h = hashes(SafeVersion::V1_4_1);
    let keys = signers(3);
    let owners: Vec<Address> = keys.iter().take(2).map(|k| k.address()).collect();

    let descending = raw(&[ecdsa(&keys[1], &h), ecdsa(&keys[0], &h)]);
    let report = run(SafeVersion::V1_4_1, &h, &descending, &owners, 2);
    assert!(matches!(
        first_fault(&report),
        Some(SignatureFault::NotAscending { .. })
    ));
    assert_eq!(report.failure.as_ref().unwrap().code(), "GS026");

    let duplicate = raw(&[ecdsa(&keys[0], &h), ecdsa(&keys[0], &h)]);
    let report = run(SafeVersion::V1_4_1, &h, &duplicate, &owners, 2);
    assert!(matches!(
        first_fault(&report),
        Some(SignatureFault::Duplicate { .. })
    ));

    let outsider = raw(&[ecdsa(&keys[0], &h), ecdsa(&keys[2], &h)]);
    let report = run(SafeVersion::V1_4_1, &h, &outsider, &owners, 2);
    assert_eq!(
        first_fault(&report),
        Some(SignatureFault::NotOwner {
            signer: keys[2].address()
        })
    );

    // Only the first `threshold` signatures are read: a bad third one does not matter.
    let mut extra = raw(&[ecdsa(&keys[0], &h), ecdsa(&keys[1], &h)]);
    extra.extend_from_slice(&[0xee; 65]);
    assert!(run(SafeVersion::V1_4_1, &h, &extra, &owners, 2).accepted());
    assert!(!run(SafeVersion::V1_4_1, &h, &extra, &owners, 3).accepted());
}

#[test]
fn sentinel_and_zero_signers_never_count() {
    let h = hashes(SafeVersion::V1_3_0);
    let blob = raw(&[(SENTINEL, OwnerSignature::ApprovedHash)]);
    let check = SignatureCheck::for_safe_tx(SafeVersion::V1_3_0, &h, &blob, &[SENTINEL], SENTINEL);
    let report = check_signatures(&check, U256::from(1), |_| true, |_| true);
    assert_eq!(first_fault(&report), Some(SignatureFault::Sentinel));

    let mut zero = [0u8; 65];
    zero[64] = 1;
    let report = check_signatures(
        &SignatureCheck {
            signatures: &zero,
            ..check
        },
        U256::from(1),
        |_| true,
        |_| true,
    );
    assert_eq!(first_fault(&report), Some(SignatureFault::ZeroSigner));
}

#[test]
fn blob_and_threshold_rules_by_version() {
    let h = hashes(SafeVersion::V1_1_1);
    let keys = signers(2);
    let owners: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let one = pack_signatures(&[ecdsa(&keys[0], &h)]).unwrap();
    let report = run(SafeVersion::V1_1_1, &h, &one, &owners, 2);
    assert_eq!(
        report.failure.as_ref().map(CheckFailure::code),
        Some("GS020")
    );

    assert_eq!(
        run(SafeVersion::V1_1_1, &h, &[], &owners, 0).failure,
        Some(CheckFailure::ZeroThreshold)
    );
    // 1.0.0 has no GS001: a zero threshold checks nothing, like the contract.
    assert!(
        run(
            SafeVersion::V1_0_0,
            &hashes(SafeVersion::V1_0_0),
            &[],
            &owners,
            0
        )
        .accepted()
    );

    let h100 = hashes(SafeVersion::V1_0_0);
    let blob = pack_signatures(&[eth_sign(&keys[0], &h100)]).unwrap();
    let report = run(SafeVersion::V1_0_0, &h100, &blob, &owners, 1);
    assert_eq!(
        first_fault(&report),
        Some(SignatureFault::WrongKindForVersion {
            version: SafeVersion::V1_0_0
        })
    );
}

#[test]
fn invalid_v_and_high_s_match_ecrecover() {
    let h = hashes(SafeVersion::V1_3_0);
    let key = &signers(1)[0];
    let owners = [key.address()];
    let OwnerSignature::Ecdsa(sig) = ecdsa(key, &h).1 else {
        unreachable!()
    };
    let mut blob = pack_signatures(&[(key.address(), OwnerSignature::Ecdsa(sig))])
        .unwrap()
        .to_vec();
    blob[64] = 29;
    let report = run(SafeVersion::V1_3_0, &h, &blob, &owners, 1);
    assert_eq!(report.signatures[0].kind, SignatureKind::Invalid);
    assert_eq!(first_fault(&report), Some(SignatureFault::Unrecoverable));

    // The precompile has no low-s rule: the malleated twin recovers to the same owner.
    let n = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let twin = Signature::new(sig.r(), n - sig.s(), !sig.v());
    let blob = pack_signatures(&[(key.address(), OwnerSignature::Ecdsa(twin))]).unwrap();
    assert!(run(SafeVersion::V1_3_0, &h, &blob, &owners, 1).accepted());
}

#[test]
fn contract_signatures_check_bounds_then_ask_the_contract() {
    let contract = address!("0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0");
    let owners = [contract];
    for version in [SafeVersion::V1_3_0, SafeVersion::V1_5_0] {
        let h = hashes(version);
        let blob = pack_signatures(&[(
            contract,
            OwnerSignature::Contract(Bytes::from_static(b"sig")),
        )])
        .unwrap();
        assert_eq!(blob.len(), 65 + 32 + 3);
        let check = SignatureCheck::for_safe_tx(version, &h, &blob, &owners, Address::ZERO);
        let mut asked = Vec::new();
        let report = check_n_signatures(
            &check,
            U256::from(1),
            |_| false,
            |req| {
                asked.push((
                    req.signer,
                    req.signature.to_vec(),
                    req.data.to_vec(),
                    req.bytes32_form,
                ));
                true
            },
        );
        assert!(report.accepted(), "{:?}", report.failure);
        assert_eq!(
            asked,
            vec![(
                contract,
                b"sig".to_vec(),
                h.preimage.to_vec(),
                version == SafeVersion::V1_5_0
            )]
        );
        let report = check_n_signatures(&check, U256::from(1), |_| false, |_| false);
        assert_eq!(
            report.failure.as_ref().map(CheckFailure::code),
            Some("GS024")
        );
    }

    let h = hashes(SafeVersion::V1_3_0);
    let base = pack_signatures(&[(
        contract,
        OwnerSignature::Contract(Bytes::from_static(b"sig")),
    )])
    .unwrap()
    .to_vec();
    let with_offset = |offset: U256| {
        let mut b = base.clone();
        b[32..64].copy_from_slice(&offset.to_be_bytes::<32>());
        b
    };
    let code = |blob: &[u8]| {
        let check =
            SignatureCheck::for_safe_tx(SafeVersion::V1_3_0, &h, blob, &owners, Address::ZERO);
        check_n_signatures(&check, U256::from(1), |_| false, |_| true)
            .failure
            .map(|f| f.code())
    };
    assert_eq!(code(&with_offset(U256::from(64))), Some("GS021"));
    assert_eq!(
        code(&with_offset(U256::from(base.len() - 31))),
        Some("GS022")
    );
    assert_eq!(code(&with_offset(U256::MAX)), Some("GS022"));
    let mut long = base.clone();
    long[65..97].copy_from_slice(&U256::from(4).to_be_bytes::<32>());
    assert_eq!(code(&long), Some("GS023"));
    long[65..97].copy_from_slice(&U256::MAX.to_be_bytes::<32>());
    assert_eq!(code(&long), Some("GS023"));
}

#[test]
fn pack_refuses_duplicates() {
    let h = hashes(SafeVersion::V1_3_0);
    let key = &signers(1)[0];
    assert_eq!(
        pack_signatures(&[ecdsa(key, &h), eth_sign(key, &h)]),
        Err(PackError::DuplicateOwner {
            owner: key.address()
        })
    );
}

/// 1.4.1 checks `keccak256(data) == dataHash` before a contract signature (GS027); others do not.
#[test]
fn v1_4_1_ties_contract_signature_data_to_the_hash() {
    let contract = address!("0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0");
    let owners = [contract];
    let blob = pack_signatures(&[(contract, OwnerSignature::Contract(Bytes::new()))]).unwrap();
    for (version, code) in [
        (SafeVersion::V1_3_0, None),
        (SafeVersion::V1_4_1, Some("GS027")),
        (SafeVersion::V1_5_0, None),
    ] {
        let check = SignatureCheck {
            version,
            data_hash: B256::repeat_byte(1),
            data: b"not the preimage",
            signatures: &blob,
            owners: &owners,
            executor: Address::ZERO,
        };
        let report = check_n_signatures(&check, U256::from(1), |_| false, |_| true);
        assert_eq!(report.failure.map(|f| f.code()), code, "{version}");
    }
}
