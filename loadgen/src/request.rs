//! The load: real signed `SubmitProposal` requests from the demo initiator, each one distinct.
//!
//! They move the demo token out of the demo Safe ([`Wallet::DEMO`], what the embedded demo
//! decides on), or out of a Safe and token deployed on a live node for `--live`
//! ([`Submissions::for_wallet`]).
//!
//! The gateway derives a proposal's id from (chain, Safe, safeTxHash) and answers a repeated
//! submission from the store without writing anything, so identical requests would measure a
//! cheaper path than a real submission. Every request therefore transfers a different amount of
//! the demo token: a salt per run (so repeated runs against one long-running gateway stay
//! distinct) plus a sequence number, always far below the demo Safe's balance and every demo
//! limit, so the simulated transfer succeeds and the decision stays the same.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::SolCall as _;
use ed25519_dalek::SigningKey;
use prost::Message as _;
use signgate_gateway::domain::wire::safe_tx_to_proto;
use signgate_proto::{
    envelope::{self, SUBMISSION_CONTEXT},
    prost_types::Timestamp,
    v1 as pb,
};
use signgate_simulator::{SafeTx, abi::IERC20};

use crate::LoadError;

/// The demo Safe (1.4.1) of the demo policy.
pub const DEMO_SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
/// The demo ERC-20 the demo Safe holds.
pub const DEMO_TOKEN: Address = address!("0x7070707070707070707070707070707070707070");
/// The demo policy's address-book destination: a transfer there needs two treasury approvals.
pub const PAYEE: Address = address!("0xC0FFEE254729296a45a3885639AC7E10F9d54979");
/// The demo initiator.
pub const INITIATOR: &str = "alice";

/// The DEMO ONLY operator seeds, the same file `signgate` ships (never read at run time).
const DEMO_OPERATORS: &str = include_str!("../../gateway/config/demo/keys/operators.toml");

/// The demo initiator's ed25519 key, read from the bundled demo key file.
pub fn demo_initiator() -> Result<SigningKey, LoadError> {
    let table: toml::Table =
        toml::from_str(DEMO_OPERATORS).map_err(|e| LoadError::DemoKey(e.to_string()))?;
    let seed = table
        .get(INITIATOR)
        .and_then(toml::Value::as_str)
        .ok_or_else(|| LoadError::DemoKey(format!("no key for {INITIATOR}")))?;
    let bytes: [u8; 32] = hex::decode(seed)
        .map_err(|e| LoadError::DemoKey(e.to_string()))?
        .try_into()
        .map_err(|_| LoadError::DemoKey("seed is not 32 bytes".to_owned()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Where the submissions move tokens from: a Safe on a chain, and the ERC-20 it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wallet {
    /// The chain the proposals name.
    pub chain_id: u64,
    /// The Safe (1.4.1) the tokens leave.
    pub safe: Address,
    /// The ERC-20 transferred; its policy asset must be the demo policy's `DEMO`.
    pub token: Address,
}

impl Wallet {
    /// The demo Safe and token of the embedded demo state and policy (chain 1).
    pub const DEMO: Self = Self {
        chain_id: 1,
        safe: DEMO_SAFE,
        token: DEMO_TOKEN,
    };
}

/// Distinct salts: runs started at different nanoseconds mostly differ.
const SALTS: u64 = 1_000_000;
/// Requests per run that stay distinct.
const SEQ_SPAN: u64 = 1_000_000_000;

/// Builds and signs the submissions of one run.
#[derive(Debug, Clone)]
pub struct Submissions {
    key: SigningKey,
    salt: u64,
    wallet: Wallet,
}

impl Submissions {
    /// Submissions signed by `key`, distinct from those of any other run started at another
    /// nanosecond.
    pub fn new(key: SigningKey) -> Self {
        Self::for_wallet(key, Wallet::DEMO)
    }

    /// [`Submissions::new`] moving `wallet`'s token out of `wallet`'s Safe instead of the demo
    /// Safe's.
    pub fn for_wallet(key: SigningKey, wallet: Wallet) -> Self {
        let salt = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()) % SALTS);
        Self { key, salt, wallet }
    }

    /// Request number `seq`: a transfer of `salt · 10^9 + seq + 1` base units (under 0.002
    /// DEMO for `seq` below 10^9) of the wallet's token from its Safe to the address-book
    /// payee, signed now.
    pub fn request(&self, seq: u64) -> pb::SubmitProposalRequest {
        let amount =
            U256::from(self.salt) * U256::from(SEQ_SPAN) + U256::from(seq) + U256::from(1u8);
        let data = IERC20::transferCall { to: PAYEE, amount }.abi_encode();
        let tx = SafeTx::call(self.wallet.token, U256::ZERO, data.into(), U256::ZERO);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let submission = pb::ProposalSubmission {
            chain_id: self.wallet.chain_id,
            safe: self.wallet.safe.to_checksum(None),
            tx: Some(pb::proposal_submission::Tx::Transaction(safe_tx_to_proto(
                &tx,
            ))),
            issued_at: Some(Timestamp {
                seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            }),
            request_id: format!("load-{:x}-{seq}", self.salt),
            ..Default::default()
        };
        let payload = submission.encode_to_vec();
        let signature = envelope::sign(&self.key, SUBMISSION_CONTEXT, &payload).to_vec();
        pb::SubmitProposalRequest {
            submission: Some(pb::SignedEnvelope {
                payload,
                public_key: self.key.verifying_key().to_bytes().to_vec(),
                signature,
                webauthn: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_differ_and_keep_one_size() {
        let s = Submissions::new(demo_initiator().unwrap());
        let a = s.request(0);
        let b = s.request(1);
        assert_ne!(a, b);
        assert_eq!(a.encoded_len(), b.encoded_len());
    }

    #[test]
    fn the_demo_initiator_key_is_alice_s() {
        let key = demo_initiator().unwrap();
        assert_eq!(
            hex::encode(key.verifying_key().to_bytes()),
            "bc7cbcb5636375fa1d82434d466724d92377f53b980695dd49d26d0ce12205a5"
        );
    }
}
