//! `veil monitor`: lock what is new, bind again what changed.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use veil_cli::monitor::{requested, run_once, Options};
use veil_cli::Result;

use super::discover::DiscoveryArgs;
use super::{key_and_schema, Engine, Format, Project};

/// Detect schema changes since the last apply, lock what is new, bind again what changed.
///
/// New tables and views are tagged `New` and get no secure view (nobody reads them);
/// new columns are tagged `New` and read as NULL by everyone. Both stay locked until the
/// catalog (dbt, --catalog or --tags) gives them tags of their own; the next run then
/// applies their policies. Before that, each run samples the new columns and classifies
/// them as `veil discover` does: a column is tagged (Discovered.*) and released at once
/// when a mask rule of the policies reaches the tags found; otherwise it stays locked
/// (--no-discover turns this off). Only changed sources are bound again, in one transaction with the
/// new snapshot (table veil.catalog_snapshot). A transform job can ask for a run with
/// `INSERT INTO veil.monitor_requests (requested_by) VALUES ('my job')`, answered by
/// `veil monitor --watch` within --poll seconds. See docs/monitoring.md.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    #[command(flatten)]
    engine: Engine,
    /// Key id masks use [default: veil.yml's `key-id`, else `default`].
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Schema of the secure views [default: veil.yml's `schema`, else `secure`].
    #[arg(long, value_name = "NAME")]
    schema: Option<String>,
    /// Keep running: a full check every SECONDS (stop with Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
    /// With --watch: look for rows in veil.monitor_requests every SECONDS and run at once.
    #[arg(long, value_name = "SECONDS", requires = "watch")]
    poll: Option<u64>,
    #[command(flatten)]
    discovery: DiscoveryArgs,
    /// Do not run discovery on new columns: they wait for tags from the catalog.
    #[arg(long)]
    no_discover: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil monitor`.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { project, engine, key_id, schema, watch, poll, discovery, no_discover, format } = args;
    let discovery = if no_discover { None } else { Some(discovery.discovery()?) };
    let (key_id, secure_schema) = key_and_schema(key_id.as_deref(), schema.as_deref())?;
    let options = Options { secure_schema, key_id, discovery };
    let db = engine.runner()?;
    db.open_ahead(veil_cli::duckdb::Access::Read, &[]);
    let inputs = project.inputs()?;
    let once = || -> Result<()> {
        let report = run_once(&inputs, &db, &options)?;
        match format {
            Format::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
            Format::Table => print!("{}", report.to_text()),
        }
        Ok(())
    };
    once()?;
    if let Some(every) = watch {
        // Runs until interrupted (Ctrl-C ends the process; an unfinished run's
        // transaction is rolled back by DuckDB). Errors are reported, not fatal.
        let every = Duration::from_secs(every.max(1));
        let poll = poll.map(|p| Duration::from_secs(p.max(1)));
        loop {
            let started = Instant::now();
            while started.elapsed() < every {
                let step = poll.unwrap_or(every).min(every.saturating_sub(started.elapsed()));
                std::thread::sleep(step);
                if poll.is_some() && requested(&db).unwrap_or(false) {
                    break;
                }
            }
            if let Err(e) = once() {
                eprintln!("error: {e}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
