//! The operator's commands against a real `signgate serve` on its embedded demo default:
//! propose the Bybit transaction (denied), propose a benign transfer, approve it as the initiator
//! (does not count), with a hash the operator did not check (refused locally), then as two
//! treasury operators (approved). Against a gateway serving only mutual TLS, the client
//! certificate decides who may use `Gateway` and `Admin`, and a missing or untrusted one is
//! refused with a message that says what to give.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod pki;

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

const BIN: &str = env!("CARGO_BIN_EXE_signgate");
const DEMO_SAFE: &str = "0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe";
const DEMO_TOKEN: &str = "0x7070707070707070707070707070707070707070";

/// The client commands' environment variables; cleared for every child so a developer's shell
/// cannot change what a test sees.
const CLIENT_ENV: [&str; 5] = [
    "SIGNGATE_CLIENT_GATEWAY",
    "SIGNGATE_CLIENT_TLS_CERT",
    "SIGNGATE_CLIENT_TLS_KEY",
    "SIGNGATE_CLIENT_TLS_CA",
    "SIGNGATE_CLIENT_TLS_DOMAIN",
];

/// A `signgate serve` child on 127.0.0.1:0; killed on drop.
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// `http://127.0.0.1:PORT`.
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    serve_with(dir, &[])
}

/// `signgate serve` with `env` added to its environment (`SIGNGATE_TLS__*` …).
fn serve_with(dir: &Path, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(BIN)
        .args(["--log-level", "info", "serve"])
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("SIGNGATE_SERVER__LISTEN", "127.0.0.1:0")
        // The default 127.0.0.1:9464 would collide between parallel test servers.
        .env("SIGNGATE_METRICS__LISTEN", "127.0.0.1:0")
        .env("SIGNGATE_CONSOLE__LISTEN", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        let plain: String = strip_ansi(&line);
        if let Some(rest) = plain.split("local=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            break addr.to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        url: format!("http://{addr}"),
        addr,
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes the demo operator `name`'s DEMO ONLY key to a file and returns its path.
fn demo_key(dir: &Path, name: &str) -> PathBuf {
    let keys = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/demo/keys/operators.toml"
    ))
    .unwrap();
    let line = keys
        .lines()
        .find(|l| l.starts_with(&format!("{name} = ")))
        .unwrap();
    let seed = line.split('"').nth(1).unwrap();
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, seed).unwrap();
    path
}

fn run(server: &Server, args: &[&str]) -> (Option<i32>, String, String) {
    let mut args = args.to_vec();
    args.extend(["--gateway", &server.url]);
    client(&args, &[])
}

/// The `signgate` binary as a client: `args`, and `env` as its only `SIGNGATE_CLIENT_*`
/// variables.
fn client(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    for var in CLIENT_ENV {
        cmd.env_remove(var);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.args(args).envs(env.iter().copied()).output().unwrap();
    (
        status.code(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn field<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
}

#[test]
fn operators_propose_and_approve_through_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let alice = demo_key(dir.path(), "alice");
    let bob = demo_key(dir.path(), "bob");
    let carol = demo_key(dir.path(), "carol");

    // The Bybit transaction, as the Transaction Service served it: denied, exit 1.
    let page: serde_json::Value = serde_json::from_str(include_str!(
        "../../simulator/tests/fixtures/vectors/bybit-safe-tx-71.json"
    ))
    .unwrap();
    let bybit = dir.path().join("bybit.json");
    std::fs::write(&bybit, page["results"][0].to_string()).unwrap();
    let (code, out, err) = run(
        &server,
        &[
            "propose",
            "--key",
            alice.to_str().unwrap(),
            "--safe",
            "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4",
            "--tx-service",
            bybit.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("DENIED"), "{out}");
    assert!(out.contains("[delegatecall.not_allowlisted]"), "{out}");
    assert!(out.contains("[upgrade.singleton_changed]"), "{out}");

    // 1,000 DEMO to the address-book destination.
    let data = format!(
        "0xa9059cbb000000000000000000000000c0ffee254729296a45a3885639ac7e10f9d54979{:064x}",
        1000u128 * 10u128.pow(18)
    );
    let (code, out, err) = run(
        &server,
        &[
            "propose",
            "--key",
            alice.to_str().unwrap(),
            "--safe",
            DEMO_SAFE,
            "--to",
            DEMO_TOKEN,
            "--data",
            &data,
            "--nonce",
            "0",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("needs approvals"), "{out}");
    let id = field(&out, "proposal ").to_owned();
    let hash = field(&out, "safeTxHash:").to_owned();

    let (_, out, _) = run(
        &server,
        &[
            "approve",
            "--key",
            alice.to_str().unwrap(),
            &id,
            "--safe-tx-hash",
            &hash,
        ],
    );
    assert!(
        out.contains("the initiator cannot approve their own proposal"),
        "{out}"
    );

    let wrong = format!("0x{}", "11".repeat(32));
    let (code, _, err) = run(
        &server,
        &[
            "approve",
            "--key",
            bob.to_str().unwrap(),
            &id,
            "--safe-tx-hash",
            &wrong,
        ],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("nothing was signed"), "{err}");

    let (_, out, _) = run(
        &server,
        &[
            "approve",
            "--key",
            bob.to_str().unwrap(),
            &id,
            "--safe-tx-hash",
            &hash,
        ],
    );
    assert!(out.contains("needs approvals"), "{out}");
    let (code, out, _) = run(
        &server,
        &[
            "approve",
            "--key",
            carol.to_str().unwrap(),
            &id,
            "--safe-tx-hash",
            &hash,
        ],
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("APPROVED"), "{out}");

    let (_, out, _) = run(&server, &["status"]);
    assert!(out.contains(&id) && out.contains("Approved"), "{out}");

    // Withdrawn by its initiator with a signed cancel; bob, who did not initiate it and holds
    // no cancelling role, is refused first.
    let cancel = |key: &Path| {
        run(
            &server,
            &[
                "cancel",
                "--key",
                key.to_str().unwrap(),
                &id,
                "--safe-tx-hash",
                &hash,
                "--reason",
                "paid another way",
            ],
        )
    };
    let (code, _, err) = cancel(&bob);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ask its initiator (alice)"), "{err}");
    let (code, out, err) = cancel(&alice);
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, out, _) = run(&server, &["status", &id]);
    assert!(
        out.contains("Cancelled") || out.contains("CANCELLED"),
        "{out}"
    );
}

/// `signgate` without a gateway connection (policy tools, audit).
fn offline(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        status.code(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[test]
fn admins_list_operators_and_apply_a_signed_policy_through_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());

    let (code, out, err) = run(&server, &["admin", "operators"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("mallory — Mallory"), "{out}");
    assert!(out.contains("probationary new hire"), "{out}");
    assert!(out.contains("erin — Erin"), "{out}");

    // The demo policy with Mallory offboarded, signed by one admin: refused, with the count.
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/demo/policy.toml"
    ))
    .unwrap();
    let policy = dir.path().join("next.toml");
    std::fs::write(
        &policy,
        demo.replace(
            "started_at = \"2026-10-01\"\n",
            "started_at = \"2026-10-01\"\nstatus = \"offboarded\"\n",
        ),
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let sigs = format!("{p}.sigs.json");
    let genesis = dir.path().join("genesis.toml");
    std::fs::write(&genesis, &demo).unwrap();
    let dave = demo_key(dir.path(), "dave");
    let erin = demo_key(dir.path(), "erin");
    // The first signature states the succession: version 2, replacing the configured policy.
    let (code, out, err) = offline(
        dir.path(),
        &["policy", "sign", p, "--key", dave.to_str().unwrap()],
    );
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(err.contains("--version N"), "{err}");
    let (code, out, err) = offline(
        dir.path(),
        &[
            "policy",
            "sign",
            p,
            "--key",
            dave.to_str().unwrap(),
            "--version",
            "2",
            "--replaces",
            genesis.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("as version 2 replacing 0x"), "{out}");
    let apply = ["admin", "apply-policy", "--policy", p, "--signature", &sigs];
    let (code, out, err) = run(&server, &apply);
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("1 valid admin signature(s), 2 required"),
        "{err}"
    );

    // With the second admin's signature it is in force, and says what changed.
    let (code, out, err) = offline(
        dir.path(),
        &["policy", "sign", p, "--key", erin.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = run(&server, &apply);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("version 2 is in force"), "{out}");
    assert!(
        out.contains("operator mallory: status active → offboarded"),
        "{out}"
    );
    let (_, out, _) = run(&server, &["admin", "operators"]);
    assert!(
        out.contains("mallory — Mallory (demo probationary treasury) (offboarded)"),
        "{out}"
    );

    let (code, out, err) = run(&server, &["admin", "health"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("serving"), "{out}");
    assert!(out.contains("policy: ok — signgate-demo 0x"), "{out}");

    // The gateway's own events, in words.
    let (code, out, err) = offline(
        dir.path(),
        &["audit", "show", "--db", "signgate-data/signgate.sqlite3"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("started under policy"), "{out}");
    assert!(
        out.contains("sanctions list demo-sanctions loaded"),
        "{out}"
    );
    assert!(out.contains("policy signgate-demo"), "{out}");
    assert!(out.contains("operator mallory status changed"), "{out}");
}

/// A TLS client's flags for `signgate`: the gateway by IP with `--tls-domain`, or by name.
fn tls_flags<'a>(
    gateway: &'a str,
    domain: Option<&'a str>,
    cert: &'a str,
    key: &'a str,
    ca: &'a str,
) -> Vec<&'a str> {
    let mut flags = vec![
        "--gateway",
        gateway,
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--tls-ca",
        ca,
    ];
    if let Some(domain) = domain {
        flags.extend(["--tls-domain", domain]);
    }
    flags
}

#[test]
fn issue_6_operators_reach_a_mutual_tls_gateway_with_their_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::new("signgate test ca");
    let write = |name: &str, (cert, key): (String, String)| {
        let c = dir.path().join(format!("{name}.pem"));
        let k = dir.path().join(format!("{name}.key"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        (
            c.to_string_lossy().into_owned(),
            k.to_string_lossy().into_owned(),
        )
    };
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let ca = ca.to_str().unwrap();
    let (server_cert, server_key) = write("server", pki.leaf("localhost"));
    let (ops_cert, ops_key) = write("ops", pki.client("ops.signgate.test"));
    let (admin_cert, admin_key) = write("admin", pki.client("admin.signgate.test"));
    let stranger_ca = pki::Pki::new("someone else's ca");
    let (foreign_cert, foreign_key) = write("foreign", stranger_ca.client("admin.signgate.test"));
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, &stranger_ca.ca_pem).unwrap();
    let other_ca = other_ca.to_str().unwrap();

    let server = serve_with(
        dir.path(),
        &[
            ("SIGNGATE_TLS__PLAINTEXT_LOOPBACK", "false"),
            ("SIGNGATE_TLS__CERT", &server_cert),
            ("SIGNGATE_TLS__KEY", &server_key),
            ("SIGNGATE_TLS__CLIENT_CA", ca),
            ("SIGNGATE_TLS__GATEWAY_CLIENTS", "ops.signgate.test"),
            ("SIGNGATE_TLS__ADMIN_CLIENTS", "admin.signgate.test"),
        ],
    );
    let by_ip = format!("https://{}", server.addr);
    let port = server.addr.rsplit(':').next().unwrap();
    let by_name = format!("https://localhost:{port}");

    // The operator's certificate reaches Gateway: a proposal is submitted and listed.
    let alice = demo_key(dir.path(), "alice");
    let data = format!(
        "0xa9059cbb000000000000000000000000c0ffee254729296a45a3885639ac7e10f9d54979{:064x}",
        10u128.pow(18)
    );
    let ops = tls_flags(&by_ip, Some("localhost"), &ops_cert, &ops_key, ca);
    let mut propose = vec![
        "propose",
        "--key",
        alice.to_str().unwrap(),
        "--safe",
        DEMO_SAFE,
        "--to",
        DEMO_TOKEN,
        "--data",
        &data,
        "--nonce",
        "0",
    ];
    propose.extend(&ops);
    let (code, out, err) = client(&propose, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("needs approvals"), "{out}");
    let id = field(&out, "proposal ").to_owned();
    let mut status = vec!["status"];
    status.extend(&ops);
    let (code, out, err) = client(&status, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&id), "{out}");

    // ... but not Admin.
    let mut operators = vec!["admin", "operators"];
    operators.extend(&ops);
    let (code, out, err) = client(&operators, &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("PERMISSION_DENIED"), "{err}");
    assert!(err.contains("lacks the admin permission"), "{err}");

    // The admin's certificate, from the environment, reaches Admin.
    let (code, out, err) = client(
        &["admin", "operators"],
        &[
            ("SIGNGATE_CLIENT_GATEWAY", &by_name),
            ("SIGNGATE_CLIENT_TLS_CERT", &admin_cert),
            ("SIGNGATE_CLIENT_TLS_KEY", &admin_key),
            ("SIGNGATE_CLIENT_TLS_CA", ca),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("mallory — Mallory"), "{out}");

    // No certificate: refused before connecting, saying what to add.
    let (code, out, err) = client(&["status", "--gateway", &by_name, "--tls-ca", ca], &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("serves only mutual TLS"), "{err}");
    assert!(
        err.contains("add --tls-cert PEM and --tls-key PEM"),
        "{err}"
    );

    // Plaintext to a TLS gateway: fails, and says what a TLS gateway needs.
    let (code, out, err) = client(&["status", "--gateway", &server.url], &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("needs an https:// address"), "{err}");

    // A certificate of another CA: the gateway refuses ours.
    let foreign = tls_flags(&by_name, None, &foreign_cert, &foreign_key, ca);
    let mut status = vec!["status"];
    status.extend(&foreign);
    let (code, out, err) = client(&status, &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("refused our client certificate"), "{err}");

    // The wrong CA for the gateway, or its IP without --tls-domain: we refuse theirs.
    let wrong_ca = tls_flags(&by_name, None, &ops_cert, &ops_key, other_ca);
    let mut status = vec!["status"];
    status.extend(&wrong_ca);
    let (code, out, err) = client(&status, &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("we refused the certificate of the gateway"),
        "{err}"
    );
    assert!(err.contains("unknown issuer"), "{err}");
    let no_domain = tls_flags(&by_ip, None, &ops_cert, &ops_key, ca);
    let mut status = vec!["status"];
    status.extend(&no_domain);
    let (code, out, err) = client(&status, &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("give --tls-domain"), "{err}");
}

/// Exit status of a command whose reader went away: the shell's SIGPIPE status (128 + 13).
const BROKEN_PIPE_EXIT: i32 = 141;

/// Runs `signgate args` in `dir` with its standard output on a pipe nobody reads: the read end
/// is closed before the child starts, so its first write meets EPIPE every time (no race with
/// the pipe's buffer). Returns the exit status and what it printed on stderr.
fn into_closed_pipe(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(BIN);
    for var in CLIENT_ENV {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn every_printing_command_exits_quietly_when_its_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let bybit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../simulator/tests/fixtures/vectors/bybit-safe-tx-71.json"
    );
    let demo_policy = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo/policy.toml");
    let standard = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policy/tests/fixtures/policies/standard.toml"
    );
    let case = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policy/tests/fixtures/cases/approved-production-usdc.toml"
    );
    let db = "signgate-data/signgate.sqlite3";
    let inspect = [
        "inspect",
        "--tx-service",
        bybit,
        "--pick",
        "0",
        "--safe-version",
        "1.1.1",
    ];
    let mut inspect_json = inspect.to_vec();
    inspect_json.push("--json");
    let commands: Vec<Vec<&str>> = vec![
        inspect.to_vec(),
        inspect_json,
        vec!["policy", "check", demo_policy],
        vec!["policy", "test", standard, case],
        vec!["audit", "show", "--db", db],
        vec!["audit", "export", "--db", db],
        vec!["keygen", "--out", "fresh.key"],
        vec!["status", "--gateway", &server.url],
        vec!["admin", "operators", "--gateway", &server.url],
        vec!["admin", "health", "--gateway", &server.url],
    ];
    for args in commands {
        let (code, err) = into_closed_pipe(dir.path(), &args);
        assert_eq!(code, Some(BROKEN_PIPE_EXIT), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(err, "", "{args:?} said something on stderr");
    }
}

#[test]
fn a_reader_that_stops_after_the_first_line_ends_the_command_quietly() {
    // `head -1` on a long report: 2,000 cases print ~300 KB, far beyond a pipe's buffer, so
    // the writes after the reader left must fail.
    let standard = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policy/tests/fixtures/policies/standard.toml"
    );
    let case = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policy/tests/fixtures/cases/approved-production-usdc.toml"
    );
    let mut child = Command::new(BIN)
        .args(["policy", "test", standard])
        .args(std::iter::repeat_n(case, 2_000))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("PASS "), "{first}");
    // The reader is dropped here: the pipe has no reader any more.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(BROKEN_PIPE_EXIT), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err, "");
}
