//! `signgate policy check|test|sign`: the policy author's tools.
//!
//! `check` compiles a policy file and prints what it compiled to (and, given signatures,
//! whether enough admins signed this exact content hash); `test` runs example proposals
//! (case files) against it, a dry run before asking admins to sign; `sign` adds one admin's
//! signature to the policy's signature file. Admins sign a statement, not just the text: "this
//! policy, as version N, replacing the policy with content hash H". The signature file says so
//! at its top, so every admin sees what they sign and the gateway refuses a replay of an older
//! version or a policy signed for another predecessor. All decisions come from
//! `signgate_policy`; this module only reads files, reads the clock and prints.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    str::FromStr as _,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_primitives::FixedBytes;
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use signgate_policy::{
    Policy, PolicyHash,
    cases::{Case, SignatureMode, render},
    governance::{
        AdminSignature, InForce, PolicyStatement, activate, sign_policy, signing_key,
        tally_signatures,
    },
    time::{HOUR, Timestamp},
};

use super::out::Stdout;

/// Arguments of `signgate policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// What to do with the policy file.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// The policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and print the compiled summary and its content hash.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
        /// Admin signatures (JSON); defaults to FILE.sigs.json when that exists.
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
        /// The policy in force, whose admins must have signed and which the signatures must
        /// name as replaced (first policy: omit). The version is checked by the gateway.
        #[arg(long, value_name = "FILE")]
        current: Option<PathBuf>,
    },
    /// Run example proposals against a policy and compare with their expected decisions.
    Test {
        /// The policy file (TOML).
        file: PathBuf,
        /// Case files (TOML), one proposal each.
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        /// Sign approvals with the deterministic test keys and verify them for real (the
        /// policy must enrol those keys); by default signatures are assumed valid.
        #[arg(long)]
        test_keys: bool,
    },
    /// Add an admin's ed25519 signature over (version, replaced policy, content hash).
    Sign {
        /// The policy file (TOML); it must compile.
        file: PathBuf,
        /// File holding the admin's 32-byte secret key as hex.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The version the policy takes effect as: above the one in force (the configured
        /// genesis policy is version 1; `signgate admin health` shows the one in force).
        /// Required for the first signature; later ones take it from the signature file.
        #[arg(long)]
        version: Option<u64>,
        /// The policy it replaces, which must be the one in force: its content hash (0x…) or
        /// its policy file. Required for the first signature, like `--version`.
        #[arg(long, value_name = "HASH|FILE")]
        replaces: Option<String>,
        /// Signature file to add to; defaults to FILE.sigs.json.
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
    },
    /// Check a signed enrolment request from the console offline (the new security key signed
    /// it, from the console's origin, with its user verified) and print the line to add to the
    /// operator's `keys`. Exit status 1 when it does not check.
    Enrolment {
        /// The signed request (JSON), as the console's enrolment page shows it.
        file: PathBuf,
        /// The console's origin the key was enrolled from: the demo's `http://localhost:PORT`,
        /// or in production `console.url` (`https://console.example:8443`). Repeatable.
        #[arg(long, value_name = "URL", default_value = "http://localhost:8080")]
        origin: Vec<String>,
    },
}

/// Runs a policy subcommand. Exit status 1 means the check or a case failed.
pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Check {
            file,
            signatures,
            current,
        } => check(&file, signatures, current.as_deref()),
        PolicyCommand::Test {
            file,
            cases,
            test_keys,
        } => test(&file, &cases, test_keys),
        PolicyCommand::Sign {
            file,
            key,
            version,
            replaces,
            signatures,
        } => sign(&file, &key, version, replaces.as_deref(), signatures),
        PolicyCommand::Enrolment { file, origin } => enrolment(&file, &origin),
    }
}

/// `signgate policy enrolment FILE`.
fn enrolment(file: &Path, origins: &[String]) -> anyhow::Result<ExitCode> {
    let text = read(file)?;
    let signed: crate::console::enrol::SignedEnrolment = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a signed enrolment request", file.display()))?;
    let mut out = Stdout::lock();
    let r = &signed.request;
    match signed.check(origins) {
        Ok(()) => {
            writeln!(
                out,
                "signed by the security key it enrols, from {}, user verified\noperator: {}\nrequested at: {} (an old request may be a replay of a key since revoked: ask the operator)\nadd to their keys: {}",
                origins.join(" or "),
                r.operator,
                jiff::Timestamp::from_millisecond(r.requested_at_ms)
                    .map_or_else(|_| "(invalid)".to_owned(), |t| t.to_string()),
                r.policy_key()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(
                out,
                "does NOT check: {e}\nthe request is not proven to come from the key it names; do not add it"
            )?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn compile(path: &Path) -> anyhow::Result<(String, Policy)> {
    let source = read(path)?;
    let policy = Policy::compile(&source).with_context(|| {
        format!(
            "{} does not compile; fix it and run `signgate policy check` again",
            path.display()
        )
    })?;
    Ok((source, policy))
}

fn default_signatures(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sigs.json");
    PathBuf::from(name)
}

fn now() -> anyhow::Result<Timestamp> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    Ok(Timestamp(secs))
}

/// What `signgate policy sign` writes and `signgate admin apply-policy` sends: the statement
/// the admins signed, then their signatures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignatureFile {
    /// The content hash of the signed policy file.
    pub(crate) policy: PolicyHash,
    /// The version it takes effect as.
    pub(crate) version: u64,
    /// The content hash of the policy it replaces.
    pub(crate) replaces: PolicyHash,
    /// The admins' signatures over the three.
    pub(crate) signatures: Vec<AdminSignature>,
}

impl SignatureFile {
    pub(crate) fn statement(&self) -> PolicyStatement {
        PolicyStatement {
            version: self.version,
            replaces: self.replaces,
            policy: self.policy,
        }
    }
}

/// Reads a signature file; a bare list (written before versions) is refused with what to do.
pub(crate) fn load_signature_file(path: &Path) -> anyhow::Result<SignatureFile> {
    let text = read(path)?;
    if serde_json::from_str::<Vec<AdminSignature>>(&text).is_ok() {
        bail!(
            "{} holds signatures made before versions (over the content hash alone), which the gateway no longer accepts; sign again with `signgate policy sign FILE --key KEY --version N --replaces HASH`",
            path.display()
        );
    }
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a signature file written by `signgate policy sign`",
            path.display()
        )
    })
}

/// A content hash given as 0x… or as the policy file that has it.
fn policy_hash(arg: &str) -> anyhow::Result<PolicyHash> {
    if let Ok(h) = alloy_primitives::B256::from_str(arg) {
        return Ok(PolicyHash(h));
    }
    Ok(compile(Path::new(arg))?.1.hash())
}

fn check(
    file: &Path,
    signatures: Option<PathBuf>,
    current: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (source, policy) = compile(file)?;
    let mut out = Stdout::lock();
    write!(out, "{}", summary(&policy))?;
    let sig_path = signatures.unwrap_or_else(|| default_signatures(file));
    if !sig_path.exists() {
        writeln!(
            out,
            "\nno signature file at {}: the policy cannot take effect until admins sign it",
            sig_path.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let file = load_signature_file(&sig_path)?;
    if file.policy != policy.hash() {
        writeln!(
            out,
            "\nrefused: {} was signed for policy {}, not this file's {}",
            sig_path.display(),
            file.policy,
            policy.hash()
        )?;
        return Ok(ExitCode::FAILURE);
    }
    writeln!(
        out,
        "\nsigned as version {}, replacing {}",
        file.version, file.replaces
    )?;
    let current = current.map(compile).transpose()?.map(|(_, p)| p);
    let now = now()?;
    // The version in force is the gateway's to check; 0 here lets any version through.
    let in_force = current
        .as_ref()
        .map(|policy| InForce { policy, version: 0 });
    match activate(
        &source,
        file.version,
        file.replaces,
        &file.signatures,
        in_force,
        now,
    ) {
        Ok(_) => {
            let tally = tally_signatures(
                current.as_ref().unwrap_or(&policy),
                &file.statement(),
                &file.signatures,
                now,
            );
            let names: Vec<String> = tally.signers.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "signed by {} admin(s) ({}): the policy may take effect",
                names.len(),
                names.join(", ")
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(out, "refused: {e}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What a policy compiled to, in plain words.
fn summary(p: &Policy) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "policy `{}`\ncontent hash {}", p.name(), p.hash());
    let g = p.governance();
    let admins: Vec<String> = g.admins.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "changes need {} of {} admins ({})",
        g.threshold,
        admins.len(),
        admins.join(", ")
    );
    let pr = p.probation();
    let _ = writeln!(
        s,
        "probation: {} days for new hires and new keys; none on {} wallets; at most {} probationary approver(s) count",
        pr.days,
        pr.restricted_wallet_tags.join("/"),
        pr.max_probationary_approvers
    );
    let _ = writeln!(s, "permission changes need role `{}`", p.permission_role());
    let _ = writeln!(
        s,
        "address book: {} entries, {}h cooling-off",
        p.address_book().len(),
        p.cooling_off() / HOUR
    );
    let _ = writeln!(s, "wallets:");
    for w in p.wallets() {
        let assets: Vec<String> = w
            .assets
            .iter()
            .map(|a| format!("{} ({} decimals)", a.symbol, a.decimals))
            .collect();
        let _ = writeln!(
            s,
            "  {} = {} on chain {} [{}] assets: {}",
            w.name,
            w.safe,
            w.chain_id,
            w.tags.join(", "),
            assets.join(", ")
        );
    }
    let _ = writeln!(s, "operators: {}", p.operators().len());
    let _ = writeln!(s, "tiers:");
    for t in p.tiers() {
        let need: Vec<String> = t
            .approvals
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        let classes: Vec<&str> = t.classes.iter().map(|c| c.as_str()).collect();
        let _ = write!(
            s,
            "  {}: {} on [{}]",
            t.name,
            classes.join("/"),
            t.wallet_tags.join(", ")
        );
        if let Some(a) = &t.assets {
            let _ = write!(s, " assets {}", a.join("/"));
        }
        if let Some(min) = &t.min_amount {
            let _ = write!(s, " from {min}");
        }
        if let Some(max) = &t.max_amount {
            let _ = write!(s, " up to {max}");
        }
        let _ = writeln!(
            s,
            " → {}; time lock {}h; approvals expire after {}h",
            need.join(" + "),
            t.time_lock / HOUR,
            t.approval_expiry / HOUR
        );
    }
    for v in p.velocity() {
        let _ = writeln!(
            s,
            "velocity: {} may send {} {} per {}h",
            v.wallet,
            v.limit,
            v.asset.symbol,
            v.window / HOUR
        );
    }
    let _ = writeln!(
        s,
        "delegatecall allowlist: {} targets (address and code hash)",
        p.delegate_targets().len()
    );
    for u in p.declared_upgrades() {
        let _ = writeln!(
            s,
            "declared upgrade: {} → {} ({}): {}",
            u.proxy, u.implementation, u.code_hash, u.reason
        );
    }
    s
}

fn test(file: &Path, cases: &[PathBuf], test_keys: bool) -> anyhow::Result<ExitCode> {
    let (_, policy) = compile(file)?;
    let mode = if test_keys {
        SignatureMode::TestKeys
    } else {
        SignatureMode::AssumeValid
    };
    let mut failed = 0usize;
    let mut out = Stdout::lock();
    for path in cases {
        let case = Case::parse(&read(path)?).with_context(|| format!("in {}", path.display()))?;
        let (evaluation, problems) = case
            .run(&policy, mode)
            .with_context(|| format!("in {}", path.display()))?;
        if problems.is_empty() {
            writeln!(out, "PASS {} — {}", path.display(), case.description)?;
        } else {
            failed += 1;
            writeln!(out, "FAIL {} — {}", path.display(), case.description)?;
            for p in &problems {
                writeln!(out, "  {p}")?;
            }
            writeln!(out, "  got: {}", render(&evaluation).replace('\n', "\n  "))?;
        }
    }
    writeln!(
        out,
        "{} case(s), {} failed, policy {}",
        cases.len(),
        failed,
        policy.hash()
    )?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn sign(
    file: &Path,
    key: &Path,
    version: Option<u64>,
    replaces: Option<&str>,
    signatures: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (_, policy) = compile(file)?;
    let text = read(key)?;
    let seed = FixedBytes::<32>::from_str(text.trim())
        .context("the key file must hold a 32-byte secret key as hex")?;
    let replaces = replaces.map(policy_hash).transpose()?;
    let sig_path = signatures.unwrap_or_else(|| default_signatures(file));
    let mut sigs = if sig_path.exists() {
        let existing = load_signature_file(&sig_path)?;
        let differs = existing.policy != policy.hash()
            || version.is_some_and(|v| v != existing.version)
            || replaces.is_some_and(|r| r != existing.replaces);
        if differs {
            bail!(
                "{} holds signatures for policy {} as version {} replacing {}; this signature would be for another statement (remove the file to start over)",
                sig_path.display(),
                existing.policy,
                existing.version,
                existing.replaces
            );
        }
        existing
    } else {
        let (Some(version), Some(replaces)) = (version, replaces) else {
            bail!(
                "the first signature of a policy needs --version N (above the version in force; the configured genesis policy is version 1) and --replaces HASH|FILE (the policy in force)"
            );
        };
        SignatureFile {
            policy: policy.hash(),
            version,
            replaces,
            signatures: Vec::new(),
        }
    };
    let signature = sign_policy(&signing_key(&seed.0), &sigs.statement());
    if sigs.signatures.contains(&signature) {
        bail!(
            "{} already holds this key's signature over {}",
            sig_path.display(),
            policy.hash()
        );
    }
    sigs.signatures
        .retain(|s| s.public_key != signature.public_key);
    let public_key = signature.public_key;
    sigs.signatures.push(signature);
    let json = serde_json::to_string_pretty(&sigs).context("cannot encode signatures")?;
    fs::write(&sig_path, json).with_context(|| format!("cannot write {}", sig_path.display()))?;
    let mut out = Stdout::lock();
    writeln!(
        out,
        "signed {} as version {} replacing {} with {public_key}; {} signature(s) in {}",
        policy.hash(),
        sigs.version,
        sigs.replaces,
        sigs.signatures.len(),
        sig_path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
