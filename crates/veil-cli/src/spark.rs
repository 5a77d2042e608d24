//! Apache Spark through the Thrift server (HiveServer2): apply the bindings as an
//! admin of veil's guard, store keys derived per scope, and probe the secure views
//! as each reader.
//!
//! Statements run through PyHive (`spark_runner.py`, one connection per user). A
//! Spark catalog has no transactions, so an apply is ordered to fail closed: every
//! input is checked first (the keyring, the guard's settings on the server, every
//! base table); the facts and keys go into tables of a new generation
//! (`veil.users_g<n>`, …) that no view reads yet; then each view is replaced in one
//! statement, reading the new tables; only then are stale views and the tables of
//! older generations dropped. A failure part way leaves every view whole: each
//! reads either the previous policy's tables or the new ones.
//!
//! The derived keys reach the server in a file (`key_dir`), read into the keys
//! table by a statement that names the file, so no key is in any SQL text (the
//! Thrift server logs statements).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{json, Value};
use veil_core::{Key, Purpose, Scope};
use veil_host::render::base_relation;
use veil_host::targets::spark::{self as target, Spark as SparkTarget};
use veil_host::targets::Target;
use veil_host::{bind, BindOptions, StatementKind};
use veil_policy::Engine;

use crate::verify::{Outcome, Probe, Prober, Who};
use crate::{keyring, Error, Result};

const RUNNER: &str = include_str!("spark_runner.py");

/// The relations of schema `veil` that carry a generation suffix.
const FACTS_TABLES: [&str; 7] =
    ["users", "user_groups", "user_attributes", "user_projects", "project_purposes", "approvals", "keys"];

/// How many sessions (readers) `veil verify` runs at a time.
const PARALLEL_SESSIONS: usize = 4;

/// The user name veil's verification reads as for a reader it does not know.
pub const STRANGER: &str = "veil_stranger";

/// A Thrift server and who veil is there.
#[derive(Clone, Debug)]
pub struct Spark {
    /// Python interpreter with PyHive.
    pub python: String,
    /// Host of the Thrift server.
    pub host: String,
    /// Port of the Thrift server.
    pub port: u16,
    /// Database a session starts in.
    pub database: String,
    /// The admin (listed in the guard's `spark.veil.admins`).
    pub user: String,
    /// The admin's password (CUSTOM/LDAP authentication), if any.
    pub password: Option<String>,
    /// Readers' passwords, for `veil verify` on a server that authenticates.
    pub credentials: BTreeMap<String, String>,
}

/// One connection's statements.
struct Session<'a> {
    user: &'a str,
    password: Option<&'a str>,
    statements: Vec<String>,
    stop: bool,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    sessions: Vec<SessionReply>,
}

#[derive(Deserialize)]
struct SessionReply {
    connect_error: Option<String>,
    results: Vec<Answer>,
}

/// What the server answered to one statement.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer {
    /// Whether it succeeded.
    pub ok: bool,
    /// Rows, each value as JSON.
    pub rows: Vec<Vec<Value>>,
    /// The server's message when it failed.
    pub error: Option<String>,
}

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Secure views created or replaced.
    pub views: usize,
    /// Statements run.
    pub statements: usize,
    /// Derived keys stored.
    pub keys: usize,
    /// The generation of the facts and keys tables now read.
    pub generation: u64,
}

impl Spark {
    /// The server at `url` (`jdbc:hive2://host:port[/database]`), as `user`.
    ///
    /// ```
    /// let s = veil_cli::spark::Spark::new("jdbc:hive2://127.0.0.1:17010/default", "veil_admin", None).unwrap();
    /// assert_eq!((s.host.as_str(), s.port, s.database.as_str()), ("127.0.0.1", 17010, "default"));
    /// assert!(veil_cli::spark::Spark::new("http://x", "a", None).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::Usage`] for a URL of another form.
    pub fn new(url: &str, user: &str, password: Option<String>) -> Result<Self> {
        let usage = || Error::Usage(format!("--spark `{url}`: give jdbc:hive2://HOST:PORT[/DATABASE]"));
        let rest = url.strip_prefix("jdbc:hive2://").ok_or_else(usage)?;
        let (address, database) = rest.split_once('/').unwrap_or((rest, "default"));
        let database = database.split(';').next().filter(|d| !d.is_empty()).unwrap_or("default");
        let (host, port) = address.rsplit_once(':').ok_or_else(usage)?;
        let port = port.parse().map_err(|_| usage())?;
        if host.is_empty() {
            return Err(usage());
        }
        Ok(Self {
            python: "python3".into(),
            host: host.into(),
            port,
            database: database.into(),
            user: user.into(),
            password,
            credentials: BTreeMap::new(),
        })
    }

    /// Readers' passwords from a file of `user:password` lines (blank lines and
    /// `#` comments skipped).
    ///
    /// # Errors
    /// [`Error::Input`] naming the file and line.
    pub fn with_credentials(mut self, path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Input(format!("cannot read credentials `{}`: {e}", path.display())))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, password) = line
                .split_once(':')
                .ok_or_else(|| Error::Input(format!("{}:{}: a line is `user:password`", path.display(), n + 1)))?;
            self.credentials.insert(user.to_string(), password.to_string());
        }
        Ok(self)
    }

    fn run(&self, sessions: &[Session<'_>]) -> Result<Vec<SessionReply>> {
        let request = json!({
            "parallel": PARALLEL_SESSIONS,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "sessions": sessions.iter().map(|s| json!({
                "user": s.user, "password": s.password, "statements": s.statements, "stop": s.stop,
            })).collect::<Vec<_>>(),
        });
        let mut child = Command::new(&self.python)
            .arg("-c")
            .arg(RUNNER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Engine(format!("cannot run `{}` (needed to reach Spark): {e}", self.python)))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(request.to_string().as_bytes())
                .map_err(|e| Error::Engine(format!("cannot talk to `{}`: {e}", self.python)))?;
        }
        let output = child.wait_with_output().map_err(|e| Error::Engine(format!("`{}`: {e}", self.python)))?;
        let reply: Reply = serde_json::from_slice(&output.stdout).map_err(|_| {
            Error::Engine(format!(
                "the Spark runner failed: {}",
                String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("no output")
            ))
        })?;
        if let Some(error) = reply.error {
            return Err(Error::Engine(error));
        }
        Ok(reply.sessions)
    }

    /// Run `statements` as the admin; stop at the first failure.
    ///
    /// # Errors
    /// [`Error::Engine`] when the server cannot be reached or refuses the login.
    pub fn admin(&self, statements: Vec<String>) -> Result<Vec<Answer>> {
        let session = Session { user: &self.user, password: self.password.as_deref(), statements, stop: true };
        let reply = self.run(&[session])?.into_iter().next();
        match reply {
            Some(SessionReply { connect_error: None, results }) => Ok(results),
            Some(SessionReply { connect_error: Some(e), .. }) => Err(Error::Engine(format!(
                "cannot log in to the Spark Thrift server {}:{} as `{}`: {e}",
                self.host, self.port, self.user
            ))),
            None => Err(Error::Engine("the Spark runner gave no answer".into())),
        }
    }

    /// The server's value of static setting `key` (`None` when unset).
    ///
    /// # Errors
    /// [`Error::Refused`] when the guard refuses veil's user (not one of its admins).
    fn setting(&self, key: &str) -> Result<Option<String>> {
        let answer = self.admin(vec![format!("SET {key}")])?;
        if let Some(error) = answer.first().and_then(|a| a.error.as_deref()).filter(|e| e.contains("veil: reader")) {
            return Err(Error::Refused(format!(
                "`{}` is not an admin of veil's guard (spark.veil.admins): {error}; nothing was applied",
                self.user
            )));
        }
        Ok(answer
            .first()
            .and_then(|a| a.rows.first())
            .and_then(|r| r.get(1))
            .and_then(Value::as_str)
            .filter(|v| *v != "<undefined>")
            .map(str::to_owned))
    }

    /// Refuse a server whose guard would not keep readers to the secure views: no
    /// guard, veil not among its admins, or another secure schema.
    ///
    /// # Errors
    /// [`Error::Refused`] naming the setting and its fix.
    pub fn check_guard(&self, secure_schema: &str) -> Result<()> {
        let extensions = self.setting("spark.sql.extensions")?.unwrap_or_default();
        let admins = self.setting("spark.veil.admins")?.unwrap_or_default();
        let schema = self.setting("spark.veil.secureSchema")?.unwrap_or_else(|| "secure".into());
        let fix = "start the Thrift server as scripts/spark-cluster does (docs/targets.md)";
        if !extensions.split(',').any(|e| e.trim() == "veil.spark.Guard") {
            return Err(Error::Refused(format!(
                "the Spark Thrift server runs without veil's guard (spark.sql.extensions = `{extensions}`): any \
                 reader could read the base tables and keys; {fix}; nothing was applied"
            )));
        }
        if !admins.split(',').any(|a| a.trim() == self.user) {
            return Err(Error::Refused(format!(
                "`{}` is not an admin of veil's guard (spark.veil.admins = `{admins}`); nothing was applied",
                self.user
            )));
        }
        if !schema.eq_ignore_ascii_case(secure_schema) {
            return Err(Error::Refused(format!(
                "the guard lets readers read schema `{schema}` (spark.veil.secureSchema), not `{secure_schema}`; \
                 nothing was applied"
            )));
        }
        Ok(())
    }

    /// The generation of the facts and keys tables in place (the newest), if any.
    ///
    /// # Errors
    /// [`Error::Engine`] when the server cannot be asked.
    pub fn generation(&self) -> Result<Option<u64>> {
        Ok(self.generations()?.into_iter().max())
    }

    fn generations(&self) -> Result<BTreeSet<u64>> {
        Ok(self
            .veil_tables()?
            .iter()
            .filter_map(|(t, _)| t.strip_prefix("keys_g"))
            .filter_map(|g| g.parse().ok())
            .collect())
    }

    /// The relations of schema `veil`, each with whether it is a view.
    fn veil_tables(&self) -> Result<Vec<(String, bool)>> {
        let veil = veil_host::render::FACTS_SCHEMA;
        let answer = self.admin(vec![format!("SHOW TABLES IN {veil}"), format!("SHOW VIEWS IN {veil}")])?;
        let names = |i: usize| -> Vec<String> {
            answer
                .get(i)
                .filter(|a| a.ok)
                .map(|a| a.rows.iter().filter_map(|r| r.get(1).and_then(Value::as_str).map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let views: BTreeSet<String> = names(1).into_iter().collect();
        Ok(names(0).into_iter().map(|t| (t.clone(), views.contains(&t))).collect())
    }
}

/// The key of one scope, derived from the master key as veil-core derives it.
fn derive(master: &Key, purpose: &str, scope: &str, reader: Option<&str>) -> [u8; 32] {
    let purpose = match purpose {
        "sample" => Purpose::Sample,
        "ff1" => Purpose::Ff1,
        "token" => Purpose::Token,
        _ => Purpose::Hash,
    };
    let mut s = Scope::parse(scope);
    if let Some(r) = reader {
        s = s.for_reader(r);
    }
    master.derive(purpose, &s)
}

/// Apply the bindings of `engine` to the Spark Thrift server (see the module docs).
///
/// # Errors
/// [`Error::Input`] for a missing keyring key or base table, [`Error::Refused`] for
/// a server without veil's guard (nothing changed); [`Error::Engine`] naming the
/// statement Spark refused.
pub fn apply(
    engine: &Engine,
    options: &BindOptions,
    spark: &Spark,
    keyring_path: &Path,
    udf_jar: &str,
    key_dir: &Path,
) -> Result<Applied> {
    let master = keyring::read(keyring_path, &options.key_id)?;
    spark.check_guard(&options.secure_schema)?;
    let generation = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    let t = SparkTarget::new(&options.key_id, udf_jar).with_generation(generation);
    let bindings = bind(engine, &t, options)?;

    // Every base table answers before anything changes.
    let sources: Vec<String> = bindings.views.keys().cloned().collect();
    let probes: Vec<String> = sources
        .iter()
        .filter_map(|s| engine.catalog().source(s))
        .map(|s| format!("SELECT * FROM {} LIMIT 0", base_relation(s, &t)))
        .collect();
    let session = Session { user: &spark.user, password: spark.password.as_deref(), statements: probes, stop: false };
    let reply = spark.run(&[session])?.into_iter().next();
    let answers = match reply {
        Some(SessionReply { connect_error: None, results }) => results,
        Some(SessionReply { connect_error: Some(e), .. }) => return Err(Error::Engine(e)),
        None => Vec::new(),
    };
    let missing: Vec<String> = sources
        .iter()
        .zip(&answers)
        .filter(|(_, a)| !a.ok)
        .map(|(s, a)| format!("  `{s}`: {}", a.error.as_deref().unwrap_or_default().lines().next().unwrap_or("")))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Input(format!(
            "{} data source(s) have no table in Spark:\n{}\nload them first, or leave them out with --source; \
             nothing was applied",
            missing.len(),
            missing.join("\n")
        )));
    }

    // The derived keys, in a file the server reads (never in SQL text).
    let scopes = target::key_scopes(engine, options)?;
    let file = KeyFile::write(key_dir, &options.key_id, &master, &scopes)?;
    let keys_table = t.facts_table("keys");
    let load = [
        format!(
            "CREATE TEMPORARY VIEW veil_keys_load (key_id STRING, purpose STRING, scope STRING, reader STRING, \
             key_hex STRING) USING json OPTIONS (path {})",
            t.literal(&file.uri())
        ),
        format!("INSERT INTO {keys_table} SELECT key_id, purpose, scope, reader, key_hex FROM veil_keys_load"),
        "DROP VIEW veil_keys_load".to_string(),
    ];
    let mut steps: Vec<(String, Option<String>)> = Vec::new();
    for s in bindings.statements.iter().filter(|s| s.kind != StatementKind::Comment) {
        let about = match (s.kind, &s.source) {
            (StatementKind::View, Some(source)) => Some(format!("the secure view of data source `{source}`")),
            (StatementKind::Facts, _) => Some("the facts about readers (schema veil)".into()),
            _ => None,
        };
        let creates_keys = s.sql.starts_with("CREATE TABLE") && s.sql.contains(&keys_table);
        steps.push((s.sql.trim_end_matches(';').to_string(), about));
        if creates_keys {
            steps.extend(load.iter().map(|sql| (sql.clone(), Some("the derived keys".into()))));
        }
    }
    let run = |steps: &[(String, Option<String>)], state: &str| -> Result<usize> {
        let answers = spark.admin(steps.iter().map(|(sql, _)| sql.clone()).collect())?;
        if let Some((i, failed)) = answers.iter().enumerate().find(|(_, a)| !a.ok) {
            let about = steps.get(i).and_then(|(_, a)| a.clone()).unwrap_or_else(|| "a setup statement".into());
            return Err(Error::Engine(format!(
                "Spark refused statement {} of {} ({about}): {}; {state}; run veil apply again",
                i + 1,
                steps.len(),
                failed.error.as_deref().unwrap_or_default()
            )));
        }
        Ok(answers.len())
    };
    let applied =
        run(&steps, "views replaced before it read the new policy, the others the previous one (each view whole)");
    drop(file);
    let statements = applied?;

    // Only now: views no source has, then the tables of older generations no view reads.
    let schema = t.quote_ident(&options.secure_schema);
    let listed = spark.admin(vec![format!("SHOW VIEWS IN {schema}")])?;
    let current: BTreeSet<String> = bindings.views.values().map(|v| v.to_lowercase()).collect();
    let (mut cleanup, mut kept) = (Vec::new(), Vec::new());
    for row in listed.first().map(|a| a.rows.as_slice()).unwrap_or_default() {
        let Some(view) = row.get(1).and_then(Value::as_str) else { continue };
        let qualified = format!("{schema}.{}", t.quote_ident(view));
        if options.sources.is_empty() && !current.contains(&view.to_lowercase()) {
            cleanup.push((format!("DROP VIEW IF EXISTS {qualified}"), None));
        } else {
            kept.push(format!("SHOW CREATE TABLE {qualified}"));
        }
    }
    let definitions = if kept.is_empty() { Vec::new() } else { spark.admin(kept)? };
    let read: BTreeSet<u64> = definitions
        .iter()
        .flat_map(|a| a.rows.iter().flatten())
        .filter_map(Value::as_str)
        .flat_map(generations_named)
        .collect();
    for (table, view) in spark.veil_tables()? {
        let Some((name, g)) = table.rsplit_once("_g") else { continue };
        let old = FACTS_TABLES.contains(&name) && g.parse::<u64>().is_ok_and(|g| g < generation && !read.contains(&g));
        if old {
            let kind = if view { "VIEW" } else { "TABLE" };
            let veil = t.quote_ident(veil_host::render::FACTS_SCHEMA);
            cleanup.push((format!("DROP {kind} IF EXISTS {veil}.{}", t.quote_ident(&table)), None));
        }
    }
    let cleaned = if cleanup.is_empty() {
        0
    } else {
        run(&cleanup, "every view reads the new policy; stale views or older facts may be left")?
    };
    Ok(Applied { views: bindings.views.len(), statements: statements + cleaned, keys: scopes.len(), generation })
}

/// The generations of veil's tables a view definition names (`…_g<n>`).
///
/// ```
/// let g = veil_cli::spark::generations_named("FROM `veil`.`users_g12` u JOIN `veil`.`keys_g3`");
/// assert_eq!(g, vec![12, 3]);
/// ```
pub fn generations_named(sql: &str) -> Vec<u64> {
    sql.split("_g")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let tail = rest.get(digits.len()..).unwrap_or("");
            (!digits.is_empty() && tail.starts_with('`')).then(|| digits.parse().ok()).flatten()
        })
        .collect()
}

/// The derived keys as JSON lines in a file only veil's user may read, removed when dropped.
struct KeyFile(PathBuf);

impl KeyFile {
    fn write(
        dir: &Path,
        key_id: &str,
        master: &Key,
        scopes: &[(&'static str, String, Option<String>)],
    ) -> Result<Self> {
        let path = dir.join(format!("veil-spark-keys-{}-{}.json", std::process::id(), rand_suffix()));
        let mut text = String::new();
        for (purpose, scope, reader) in scopes {
            let key: String =
                derive(master, purpose, scope, reader.as_deref()).iter().map(|b| format!("{b:02x}")).collect();
            text.push_str(
                &json!({"key_id": key_id, "purpose": purpose, "scope": scope, "reader": reader, "key_hex": key})
                    .to_string(),
            );
            text.push('\n');
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options
            .open(&path)
            .map_err(|e| Error::Input(format!("cannot write the keys file in `{}`: {e}", dir.display())))?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::Input(format!("cannot write the keys file `{}`: {e}", path.display())))?;
        Ok(Self(path))
    }

    fn uri(&self) -> String {
        format!("file://{}", self.0.display())
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A suffix no other apply of this process uses.
fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// `veil verify --spark`: each reader logs in as themselves.
pub struct Verifier {
    spark: Spark,
    target: SparkTarget,
}

impl Verifier {
    /// Probe the server's secure views with the facts and keys of the newest generation.
    ///
    /// # Errors
    /// [`Error::Refused`] when the server has no veil tables (nothing applied).
    pub fn new(spark: Spark, key_id: &str) -> Result<Self> {
        let generation = spark.generation()?.ok_or_else(|| {
            Error::Refused("the Spark server has no veil keys table: run veil apply --spark first".into())
        })?;
        let target = SparkTarget::new(key_id, target::UDF_JAR).with_generation(generation).for_verification();
        Ok(Self { spark, target })
    }

    fn login(&self, who: &Who) -> Login {
        let user = match who {
            Who::Nobody => return (self.spark.user.clone(), self.spark.password.clone()),
            Who::Stranger => STRANGER.to_string(),
            Who::Reader { user, .. } => user.clone(),
        };
        let password = self.spark.credentials.get(&user).cloned();
        (user, password)
    }
}

/// A user name and password.
type Login = (String, Option<String>);

/// A statement's rows, or its error and whether that is veil's refusal.
type Rows = std::result::Result<Vec<Vec<Value>>, (String, bool)>;

/// Rows as a multiset of their JSON text.
fn multiset(rows: &[Vec<Value>]) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for r in rows {
        *counts.entry(Value::Array(r.clone()).to_string()).or_insert(0) += 1;
    }
    counts
}

impl Prober for Verifier {
    fn target(&self) -> &dyn Target {
        &self.target
    }

    /// Readers cannot act under a project on Spark.
    fn projects(&self) -> bool {
        false
    }

    fn probe(&mut self, probes: &[Probe], done: &mut dyn FnMut(usize)) -> Result<Vec<Outcome>> {
        // Each probe's statements: (who, sql) pairs; answers matched back by index.
        let mut asks: Vec<(Who, String)> = Vec::new();
        let mut plan: Vec<Vec<usize>> = Vec::new();
        for p in probes {
            let mut ids = Vec::new();
            let mut ask = |who: &Who, sql: String| {
                ids.push(asks.len());
                asks.push((who.clone(), sql));
            };
            match p {
                Probe::Count { who, view } => ask(who, format!("SELECT count(*) FROM {view}")),
                Probe::Differ { who, view, expected } => {
                    ask(who, format!("SELECT * FROM {view}"));
                    ask(&Who::Nobody, format!("SELECT * FROM ({expected}) s"));
                }
                Probe::Raw { who, view, column, base } => {
                    ask(who, format!("SELECT CAST(d.{column} AS STRING) FROM {view} d WHERE d.{column} IS NOT NULL"));
                    ask(
                        &Who::Nobody,
                        format!("SELECT DISTINCT CAST({column} AS STRING) FROM {base} WHERE {column} IS NOT NULL"),
                    );
                }
            }
            plan.push(ids);
        }
        // One session per login, statements in order.
        let mut by_login: BTreeMap<Login, Vec<usize>> = BTreeMap::new();
        for (i, (who, _)) in asks.iter().enumerate() {
            by_login.entry(self.login(who)).or_default().push(i);
        }
        let logins: Vec<(&Login, &Vec<usize>)> = by_login.iter().collect();
        let sessions: Vec<Session<'_>> = logins
            .iter()
            .map(|((user, password), ids)| Session {
                user,
                password: password.as_deref(),
                statements: ids.iter().filter_map(|i| asks.get(*i).map(|(_, sql)| sql.clone())).collect(),
                stop: false,
            })
            .collect();
        let replies = self.spark.run(&sessions)?;
        done(probes.len());
        let mut answers: Vec<Rows> = vec![Err((String::new(), false)); asks.len()];
        for ((_, ids), reply) in logins.iter().zip(replies) {
            for (n, i) in ids.iter().enumerate() {
                let answer = match (&reply.connect_error, reply.results.get(n)) {
                    // A login the server refuses reads nothing.
                    (Some(e), _) => Err((format!("login refused: {e}"), true)),
                    (None, Some(a)) if a.ok => Ok(a.rows.clone()),
                    (None, Some(a)) => {
                        let e = a.error.clone().unwrap_or_default();
                        let refused = e.contains("veil: reader") && e.contains("may not read");
                        Err((e, refused))
                    }
                    (None, None) => Err(("no answer".into(), false)),
                };
                if let Some(slot) = answers.get_mut(*i) {
                    *slot = answer;
                }
            }
        }
        let get = |i: Option<&usize>| i.and_then(|i| answers.get(*i)).cloned().unwrap_or(Err((String::new(), false)));
        Ok(probes
            .iter()
            .zip(&plan)
            .map(|(p, ids)| {
                let first = get(ids.first());
                let second = get(ids.get(1));
                let count = match (p, &first, &second) {
                    (Probe::Count { .. }, Ok(rows), _) => rows.first().and_then(|r| r.first()).and_then(Value::as_i64),
                    (Probe::Differ { .. }, Ok(got), Ok(want)) => {
                        let (got, want) = (multiset(got), multiset(want));
                        let keys: BTreeSet<&String> = got.keys().chain(want.keys()).collect();
                        Some(
                            keys.into_iter()
                                .map(|k| (got.get(k).unwrap_or(&0) - want.get(k).unwrap_or(&0)).abs())
                                .sum(),
                        )
                    }
                    (Probe::Raw { .. }, Ok(shown), Ok(raw)) => {
                        let raw: BTreeSet<String> = raw.iter().map(|r| Value::Array(r.clone()).to_string()).collect();
                        Some(shown.iter().filter(|r| raw.contains(&Value::Array((*r).clone()).to_string())).count()
                            as i64)
                    }
                    _ => None,
                };
                match (count, first, second) {
                    (Some(n), _, _) => Outcome { count: Some(n), error: None, refused: false },
                    (None, Err((e, refused)), _) => Outcome { count: None, error: Some(e), refused },
                    (None, _, Err((e, _))) => Outcome { count: None, error: Some(e), refused: false },
                    (None, _, _) => Outcome { count: None, error: Some("no answer".into()), refused: false },
                }
            })
            .collect())
    }
}
