//! `signgate audit`: verify, export, show and replay the audit log.
//!
//! `verify`, `show` and `replay` work offline on an export and the gateway's public key —
//! what an auditor holds; `export` reads the gateway's log database (read-only, no key).
//! Everything but reading the database is the `signgate-audit` crate's, which an auditor can
//! also run on its own (`signgate-audit verify`), with the same inputs and the same verdict.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use signgate_policy::Policy;

use signgate_audit::{
    AuditRecord,
    checkpoint::parse_note,
    export::{export_jsonl, note_file_name, records_from_export},
    files::{read_export, read_notes, read_public_key},
    replay::replay,
    story::{events, story},
    verify::verify_export_by_any,
};

use super::out::Stdout;
use crate::audit::AuditReader;

/// `signgate audit …`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to do with the log.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an exported log offline: every hash, every checkpoint signature, consistency
    /// between checkpoints. Exit status 0 means pass, 1 means fail.
    Verify(VerifyArgs),
    /// Export the log database as JSON Lines (one record per line).
    Export(ExportArgs),
    /// Tell the full story of one proposal in plain words.
    Show(ShowArgs),
    /// Re-evaluate recorded decisions under a candidate policy and list every one that
    /// would change. Exit status 1 when any would.
    Replay(ReplayArgs),
    /// Write what the console's auditor pages show as one self-contained HTML file: the
    /// verification, the gateway's events, every proposal's story and every record. Exit
    /// status 1 when the export does not verify (the file is written either way).
    Report(ReportArgs),
}

/// Arguments of `signgate audit report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The checks, as for `verify`.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Where to write the HTML.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `signgate audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The exported log (JSON Lines).
    #[arg(long)]
    pub log: PathBuf,
    /// Checkpoint notes: files, or directories whose `*.note` files are read. Repeatable.
    #[arg(long = "checkpoints", required = true)]
    pub checkpoints: Vec<PathBuf>,
    /// The gateway's audit public key (64 hex digits, the `.pub` file). Repeat it for a log
    /// several replicas share: a checkpoint signed by any of them counts.
    #[arg(long, required = true)]
    pub public_key: Vec<PathBuf>,
    /// The genesis policy: the policy file the gateway was first started with
    /// (`pipeline.policy`). With it the chain of applied policies is checked from its first
    /// link; without it, from the first recorded policy on.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
}

/// Arguments of `signgate audit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The gateway's database, which holds the audit log (`<data_dir>/signgate.sqlite3`).
    #[arg(
        long,
        required_unless_present = "postgres",
        conflicts_with = "postgres"
    )]
    pub db: Option<PathBuf>,
    /// The PostgreSQL database several replicas share, as a libpq URL
    /// (`postgres://user@host:5432/signgate`), instead of `--db`.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// With `--postgres`: connect over TLS, the server's certificate checked against this CA
    /// (PEM), as the gateway does with `[store.postgres] ca`.
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub postgres_ca: Option<PathBuf>,
    /// Where to write the JSON Lines (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
    /// Add each record's inclusion proof against the newest checkpoint.
    #[arg(long)]
    pub proofs: bool,
    /// Also write every stored checkpoint note into this directory.
    #[arg(long)]
    pub checkpoints_dir: Option<PathBuf>,
}

/// Where records come from for `show` and `replay`.
#[derive(Debug, Args)]
pub struct Source {
    /// An exported log (JSON Lines).
    #[arg(long, conflicts_with = "db", required_unless_present = "db")]
    pub log: Option<PathBuf>,
    /// The gateway's database, which holds the audit log (`<data_dir>/signgate.sqlite3`).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// Arguments of `signgate audit show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The proposal id; without it, the gateway's own events (starts, stops, policies applied,
    /// operator changes, sanctions lists) are listed.
    pub proposal: Option<String>,
    /// The audit log or export to read.
    #[command(flatten)]
    pub source: Source,
}

/// Arguments of `signgate audit replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The candidate policy file (TOML).
    #[arg(long)]
    pub policy: PathBuf,
    /// The audit log or export whose decisions are replayed.
    #[command(flatten)]
    pub source: Source,
}

/// Runs an audit subcommand.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify(a) => verify(&a),
        AuditCommand::Export(a) => export(&a),
        AuditCommand::Show(a) => show(&a),
        AuditCommand::Replay(a) => replay_cmd(&a),
        AuditCommand::Report(a) => report(&a),
    }
}

/// What `verify` and `report` read.
struct Inputs {
    /// The export, whole.
    log: Vec<u8>,
    /// The checkpoint notes, by name.
    notes: Vec<(String, String)>,
    /// The audit public keys.
    keys: Vec<ed25519_dalek::VerifyingKey>,
    /// The genesis policy, if given.
    genesis: Option<Policy>,
}

fn inputs(a: &VerifyArgs) -> anyhow::Result<Inputs> {
    let log = read_export(&a.log)?;
    let keys = a
        .public_key
        .iter()
        .map(|p| read_public_key(p))
        .collect::<Result<Vec<_>, _>>()?;
    let notes = read_notes(&a.checkpoints)?;
    let genesis = a
        .genesis
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            signgate_policy::Policy::compile(&text)
                .with_context(|| format!("the genesis policy {} does not compile", path.display()))
        })
        .transpose()?;
    Ok(Inputs {
        log,
        notes,
        keys,
        genesis,
    })
}

fn verify(a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let Inputs {
        log,
        notes,
        keys,
        genesis,
    } = inputs(a)?;
    let v = verify_export_by_any(&log, &notes, &keys, genesis.as_ref());
    write!(Stdout::lock(), "{}", v.report(unix_now()))?;
    Ok(if v.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report(a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let i = inputs(&a.verify)?;
    let (html, passed) =
        crate::console::report(&i.log, &i.notes, &i.keys, i.genesis.as_ref(), unix_now()).context(
            "the export has an unreadable line; run `signgate audit verify` for details",
        )?;
    fs::write(&a.out, html).with_context(|| format!("writing {}", a.out.display()))?;
    writeln!(
        Stdout::lock(),
        "{}: {}",
        a.out.display(),
        if passed { "PASS" } else { "FAIL" }
    )?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn export(a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let (leaves, notes) = match (&a.db, &a.postgres) {
        (Some(db), _) => {
            let reader = AuditReader::open(db)?;
            (reader.leaves()?, reader.checkpoints()?)
        }
        (None, Some(url)) => crate::audit::postgres::export(url, a.postgres_ca.as_deref())?,
        (None, None) => bail!("give --db FILE or --postgres URL"),
    };
    let mut buf = Vec::new();
    export_jsonl(&leaves, &notes, a.proofs, &mut buf)?;
    if a.out == Path::new("-") {
        Stdout::lock().write_all(&buf)?;
    } else {
        fs::write(&a.out, &buf).with_context(|| format!("writing {}", a.out.display()))?;
    }
    if let Some(dir) = &a.checkpoints_dir {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut taken = std::collections::BTreeSet::new();
        for note in &notes {
            let (cp, _) = parse_note(note)?;
            // Replicas sharing a log each sign the same sizes: one file per signature.
            let mut name = note_file_name(cp.size);
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = note_file_name(cp.size).replace(".note", &format!(".{n}.note"));
            }
            let path = dir.join(name);
            fs::write(&path, note).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    eprintln!(
        "exported {} records and {} checkpoint(s)",
        leaves.len(),
        notes.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn load_records(s: &Source) -> anyhow::Result<Vec<AuditRecord>> {
    match (&s.log, &s.db) {
        (Some(log), _) => {
            let bytes = read_export(log)?;
            records_from_export(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} line {}: {}; run `signgate audit verify` on it",
                    log.display(),
                    e.line,
                    e.source
                )
            })
        }
        (None, Some(db)) => {
            let reader = AuditReader::open(db)?;
            reader
                .leaves()?
                .iter()
                .map(|b| AuditRecord::from_bytes(b).map_err(anyhow::Error::from))
                .collect()
        }
        (None, None) => bail!("give --log EXPORT or --db DATABASE"),
    }
}

fn show(a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let records = load_records(&a.source)?;
    let mut out = Stdout::lock();
    let Some(proposal) = &a.proposal else {
        write!(out, "{}", events(&records))?;
        return Ok(ExitCode::SUCCESS);
    };
    match story(&records, proposal) {
        Some(s) => {
            write!(out, "{s}")?;
            Ok(ExitCode::SUCCESS)
        }
        None => bail!("no record mentions proposal {proposal}"),
    }
}

fn replay_cmd(a: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let source = fs::read_to_string(&a.policy)
        .with_context(|| format!("reading the candidate policy {}", a.policy.display()))?;
    let policy = Policy::compile(&source)
        .with_context(|| format!("compiling the candidate policy {}", a.policy.display()))?;
    let records = load_records(&a.source)?;
    let report = replay(&records, &policy);
    let mut out = Stdout::lock();
    writeln!(
        out,
        "{} recorded decision(s) re-evaluated under {}; {} would change",
        report.evaluated,
        policy.hash(),
        report.changed.len()
    )?;
    for c in &report.changed {
        writeln!(out, "{c}")?;
    }
    Ok(if report.changed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Now, in Unix seconds, for dating the newest checkpoint in the report. A clock before 1970
/// reads as 0, which makes every checkpoint look as new as it can: the report then says it lies
/// in the future rather than hiding it.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
