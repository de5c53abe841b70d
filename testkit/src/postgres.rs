//! PostgreSQL for the tests of several gateway replicas on one database (issue 15): a fresh
//! database per test on the machine's shared server ([`TestDatabase`]), and a server of the
//! test's own for tests that stop and start the database under the gateway
//! ([`PrivateCluster`]).
//!
//! Why a real server and not a mock or an embedded engine: what issue 15 must show is how
//! replicas behave on PostgreSQL's own locking, isolation and failures (a serialization failure,
//! a connection dropped by a restart), which only the real server has. Why two kinds: most tests
//! only need a database nobody else writes to, and one `CREATE DATABASE` on the shared server
//! costs milliseconds; a test that stops the database would stop every other test's too, so it
//! gets a whole server (an `initdb` of its own, on a free port, about a second to start).
//!
//! Why the command-line tools (`psql`, `pg_isready`, `initdb`, `pg_ctl`) through
//! [`std::process`] and not a client library: this crate adds no dependency for it, and the
//! tools are what an operator would use by hand, so a failure message can be replayed in a
//! shell. The shared server is the one `scripts/postgres-up` makes sure of (127.0.0.1:5432, user
//! `postgres` trusted from loopback; `scripts/test` runs it first); [`URL_BASE_ENV`] points the
//! tests at another one. Private servers need the server binaries (`initdb`, `pg_ctl`) under
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout, the newest version wins) or in
//! [`BIN_DIR_ENV`].
//!
//! initdb and postgres refuse to run as root. When the tests run as root (containers, CI), a
//! private server runs as the `postgres` OS user through `runuser`, in a directory under `/tmp`
//! that user owns.
//!
//! Like the rest of the crate this panics on what the test cannot go on without (no server, a
//! failed `CREATE DATABASE`, a server that does not start), with the command's output. Dropping
//! never panics: a database or server that cannot be removed is left behind (a test killed by a
//! signal leaves its database, and its private server running, too).

use std::{
    collections::hash_map::RandomState,
    fs,
    hash::{BuildHasher, Hasher},
    io::Write,
    net::{Ipv4Addr, TcpListener},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    thread,
    time::{Duration, Instant, SystemTime},
};

/// Environment variable overriding the shared server for [`TestDatabase`]: a URL without a
/// database, such as `postgres://postgres@db.test:5433` (default [`DEFAULT_URL_BASE`]).
pub const URL_BASE_ENV: &str = "SIGNGATE_TEST_PG_URL_BASE";

/// The shared server `scripts/postgres-up` makes sure of.
pub const DEFAULT_URL_BASE: &str = "postgres://postgres@127.0.0.1:5432";

/// Environment variable naming the directory of `initdb` and `pg_ctl` for [`PrivateCluster`]
/// (default: the newest `/usr/lib/postgresql/<version>/bin`).
pub const BIN_DIR_ENV: &str = "SIGNGATE_TEST_PG_BIN";

/// PostgreSQL's limit on identifiers (NAMEDATALEN - 1); longer names are silently truncated.
const MAX_NAME_LEN: usize = 63;

/// How long a server has to answer after a start (ours) or a connection attempt.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh, uniquely named database on the shared server, dropped (with its connections
/// terminated) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    base: String,
    name: String,
}

impl TestDatabase {
    /// Creates `<prefix>_<pid>_<counter>_<random hex>` (lowercase, the prefix shortened to keep
    /// the name within 63 bytes) on the shared server ([`URL_BASE_ENV`], else
    /// [`DEFAULT_URL_BASE`]).
    ///
    /// # Panics
    /// When `prefix` is not lowercase ASCII letters, digits and `_` starting with a letter or
    /// `_`, when the server does not answer (the message says to run `scripts/postgres-up`),
    /// or when `CREATE DATABASE` fails.
    pub fn create(prefix: &str) -> TestDatabase {
        let base = url_base();
        let name = unique_name(prefix);
        let admin = format!("{base}/postgres");
        if !wait_ready(&admin, Duration::from_secs(5)) {
            panic!(
                "no PostgreSQL answers at {base} (pg_isready): run scripts/postgres-up, which \
                 starts or installs one on 127.0.0.1:5432, or point {URL_BASE_ENV} at a server"
            );
        }
        psql(&admin, &format!("CREATE DATABASE \"{name}\""));
        TestDatabase { base, name }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgres://postgres@127.0.0.1:5432/<name>` (or the [`URL_BASE_ENV`] base).
    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE (PostgreSQL 13+) terminates connections a test left open (a gateway still
        // running, a pool not yet closed). Errors are ignored: a leftover database is harmless.
        let _ = psql_output(
            &format!("{}/postgres", self.base),
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

/// A PostgreSQL server of the test's own: initdb into a temporary directory, listening on a
/// free port of 127.0.0.1 (and on a unix socket in that directory only), user `postgres`
/// trusted, `fsync` and `synchronous_commit` on so a stop and start keep what was committed.
/// Dropping it stops the server (immediate mode) and removes the directory.
#[derive(Debug)]
pub struct PrivateCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivateCluster {
    /// Initialises and starts a server; returns once `pg_isready` answers.
    ///
    /// # Panics
    /// When no PostgreSQL server binaries are found, or initdb or the start fails (with
    /// their output and the server log).
    pub fn start() -> PrivateCluster {
        let bin = server_bin_dir();
        let as_postgres = running_as_root();
        // postgres must traverse every parent of the directory: /tmp (1777) does, a TMPDIR
        // under /root may not.
        let parent = if as_postgres {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = parent.join(unique_name("signgate_pg"));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
        fs::create_dir(dir.join("socket")).unwrap();
        if as_postgres {
            check(
                "chown",
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:")
                    .arg(&dir)
                    .output(),
            );
        }
        // A free port: the kernel picks one for a listener we close at once. Another process
        // could take it before postgres binds it; the start then fails loudly.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("finding a free port on 127.0.0.1: {e}"))
            .port();
        let cluster = PrivateCluster {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = cluster.data_dir();
        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .output();
        cluster.check("initdb", initdb);
        // In postgresql.conf rather than on pg_ctl's command line, so start_again needs none.
        let conf = format!(
            "\n# signgate testkit PrivateCluster\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\nfsync = on\nsynchronous_commit = on\n",
            cluster.dir.join("socket").display()
        );
        fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .unwrap_or_else(|e| panic!("configuring {}: {e}", data.display()));
        cluster.start_again();
        cluster
    }

    /// [`start`](Self::start) with TLS on: the server presents a certificate for `localhost`
    /// and 127.0.0.1 from a throwaway CA, whose certificate (PEM) is returned. Plaintext
    /// connections are still accepted, so a test can check which one a client used
    /// (`pg_stat_ssl`).
    ///
    /// # Panics
    /// As [`start`](Self::start), or when the files cannot be written.
    pub fn start_with_tls() -> (PrivateCluster, String) {
        let crate::pki::LocalhostCertificate {
            ca: ca_cert,
            cert: leaf,
            key: leaf_key,
        } = crate::pki::localhost_certificate("signgate test PostgreSQL CA");
        let cluster = Self::start();
        let data = cluster.data_dir();
        for (name, body) in [
            ("server.crt", leaf.pem()),
            ("server.key", leaf_key.serialize_pem()),
        ] {
            let path = data.join(name);
            fs::write(&path, body).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
            if cluster.as_postgres {
                check(
                    "chown",
                    Command::new("chown").arg("postgres:").arg(&path).output(),
                );
            }
        }
        fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut f| f.write_all(b"ssl = on\n"))
            .unwrap_or_else(|e| panic!("configuring {}: {e}", data.display()));
        cluster.stop();
        cluster.start_again();
        (cluster, ca_cert.pem())
    }

    /// `postgres://postgres@127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The server's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data directory (`data/`), the unix socket
    /// (`socket/`) and the server log (`server.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server the polite way (`pg_ctl -m fast`: open transactions are rolled back,
    /// clients disconnected, a checkpoint written) and waits until it has exited.
    ///
    /// # Panics
    /// When pg_ctl fails (the server was not running, say).
    pub fn stop(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"])
            .output();
        self.check("pg_ctl stop", out);
    }

    /// Starts the server again on the same port with the same data; returns once it answers.
    ///
    /// # Panics
    /// When pg_ctl fails or the server does not answer within 30 s.
    pub fn start_again(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "start"])
            .output();
        self.check("pg_ctl start", out);
        if !wait_ready(&self.url("postgres"), READY_TIMEOUT) {
            panic!(
                "private PostgreSQL on 127.0.0.1:{} started but does not answer within 30 s\n{}",
                self.port,
                self.log_tail()
            );
        }
    }

    /// Creates database `name` on this server.
    ///
    /// # Panics
    /// When `name` is not a plain lowercase identifier or `CREATE DATABASE` fails.
    pub fn create_database(&self, name: &str) {
        assert!(
            valid_identifier(name),
            "not a plain lowercase identifier: {name:?}"
        );
        psql(
            &self.url("postgres"),
            &format!("CREATE DATABASE \"{name}\""),
        );
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `bin/<tool>`, run as the `postgres` OS user when we are root, in our directory (the
    /// tools warn, and initdb fails, when they cannot read the working directory).
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // pg_ctl hands the server the log file for its output, so nothing holds our pipes.
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }

    fn check(&self, what: &str, out: std::io::Result<Output>) {
        let out = out.unwrap_or_else(|e| panic!("running {what} from {}: {e}", self.bin.display()));
        if !out.status.success() {
            panic!(
                "{what} for the private PostgreSQL in {} failed ({}):\n{}{}\n{}",
                self.dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            );
        }
    }

    fn log_tail(&self) -> String {
        let log = self.dir.join("server.log");
        match fs::read_to_string(&log) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(20);
                format!(
                    "last lines of {}:\n{}",
                    log.display(),
                    lines[from..].join("\n")
                )
            }
            Err(e) => format!("(no server log {}: {e})", log.display()),
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // Immediate: the test is over, nothing needs a checkpoint. Fails harmlessly when the
        // test left the server stopped.
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `sql` with `psql` against `url` (in one transaction when it is several statements, as
/// `psql -c` does) and returns its unaligned, tuples-only output, trimmed: `select 1` gives
/// `"1"`, rows are separated by newlines and columns by `|`.
///
/// # Panics
/// When psql cannot run or the statement fails (with psql's error).
pub fn psql(url: &str, sql: &str) -> String {
    let out = psql_output(url, sql).unwrap_or_else(|e| {
        panic!(
            "running psql (from PostgreSQL's client tools; scripts/postgres-up installs them): {e}"
        )
    });
    if !out.status.success() {
        panic!(
            "psql {url} -c {sql:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether a server answers at `url` and accepts connections (`pg_isready`); false as well
/// when pg_isready cannot run.
pub fn is_ready(url: &str) -> bool {
    Command::new("pg_isready")
        .args(["-q", "-t", "5", "-d", url])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `psql` running `sql` against `url` (no `.psqlrc`, no password prompt, stop at the first
/// error, unaligned tuples only, a 10 s connect timeout): its output, for callers that handle
/// a failure themselves.
pub fn psql_output(url: &str, sql: &str) -> std::io::Result<Output> {
    Command::new("psql")
        .args([
            "-X",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            "-d",
            url,
            "-c",
            sql,
        ])
        // A server that accepts the connection and then hangs fails the test, not the run.
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
}

fn wait_ready(url: &str, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if is_ready(url) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn url_base() -> String {
    std::env::var(URL_BASE_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_URL_BASE.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A name safe to put in double quotes in SQL and equal to its unquoted self: lowercase ASCII
/// letters, digits and `_`, not starting with a digit, at most 63 bytes.
fn valid_identifier(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && valid_chars(name)
}

fn valid_chars(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `<prefix>_<pid>_<counter>_<8 random hex digits>`, the prefix lowercased and cut so the whole
/// stays within PostgreSQL's 63 bytes. Unique within the process by the counter, across
/// processes by the pid, and across pid reuse (a database left by a killed run) by the random
/// part.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = prefix.to_ascii_lowercase();
    assert!(
        valid_chars(&prefix),
        "database name prefix must be ASCII letters, digits and _, starting with a letter or _: \
         {prefix:?}"
    );
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    // std's RandomState is seeded from the OS once per process and then varied per instance;
    // with the clock mixed in, that is random enough for a name.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let random = hasher.finish() as u32;
    let suffix = format!("_{}_{counter}_{random:08x}", std::process::id());
    let keep = MAX_NAME_LEN.saturating_sub(suffix.len()).min(prefix.len());
    format!("{}{suffix}", &prefix[..keep])
}

/// `initdb`'s directory: [`BIN_DIR_ENV`], else the newest `/usr/lib/postgresql/<version>/bin`
/// that has one.
fn server_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let root = Path::new("/usr/lib/postgresql");
    let newest = fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("bin/initdb").is_file())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // "15", "9.6": compare as numbers, so 10 is newer than 9.6.
            let version: Vec<u32> = name
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            Some((version, e.path().join("bin")))
        })
        .max();
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries (initdb) under {}/<version>/bin: run \
             scripts/postgres-up, which installs Debian's postgresql, or set {BIN_DIR_ENV}",
            root.display()
        ),
    }
}

/// Whether we are root (initdb and postgres refuse to run as root), asked of `id -u` so this
/// crate needs no libc binding.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command's output when it succeeded, else a panic with it.
fn check(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("running {what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_short() {
        let a = unique_name("Gateway_Replicas");
        let b = unique_name("gateway_replicas");
        assert_ne!(a, b);
        assert!(a.starts_with("gateway_replicas_"), "{a}");
        assert!(valid_identifier(&a), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert_eq!(long.len(), MAX_NAME_LEN, "{long}");
        assert!(valid_identifier(&long), "{long}");
    }

    #[test]
    #[should_panic(expected = "database name prefix")]
    fn odd_prefixes_are_refused() {
        let _ = unique_name("drop\"; --");
    }

    #[test]
    fn test_database_is_created_and_dropped() {
        let db = TestDatabase::create("testkit_selftest");
        let url = db.url();
        assert_eq!(url, format!("{}/{}", url_base(), db.name()));
        assert_eq!(psql(&url, "select 1"), "1");
        assert_eq!(psql(&url, "select current_database()"), db.name());
        let name = db.name().to_owned();
        drop(db);
        let admin = format!("{}/postgres", url_base());
        assert_eq!(
            psql(
                &admin,
                &format!("select count(*) from pg_database where datname = '{name}'")
            ),
            "0"
        );
    }

    #[test]
    fn private_cluster_keeps_its_data_across_a_stop() {
        let cluster = PrivateCluster::start();
        assert_ne!(cluster.port(), 5432);
        cluster.create_database("kept");
        let url = cluster.url("kept");
        psql(&url, "create table t (v int); insert into t values (42)");
        cluster.stop();
        assert!(!is_ready(&url), "still answering after stop");
        cluster.start_again();
        assert!(is_ready(&url));
        assert_eq!(psql(&url, "select v from t"), "42");
        let dir = cluster.dir().to_owned();
        drop(cluster);
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(!is_ready(&url), "still answering after drop");
    }
}
