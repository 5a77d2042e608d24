//! `veil bench`: every enforcement function beside plain SHA-256.

use std::process::ExitCode;

use veil_cli::{Error, Result};

use super::Format;

/// Measure every enforcement function on generated data, beside plain SHA-256.
///
/// Prints nanoseconds per value, values per second and the ratio to a plain
/// SHA-256 digest of the same values, measured interleaved in the same run (so
/// the ratio means something on a busy machine).
#[derive(clap::Args)]
pub struct Args {
    /// How many generated values each function processes per repetition.
    #[arg(long, default_value_t = 200_000)]
    values: usize,
    /// Repetitions per function; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil bench`.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { values, repeats, format } = args;
    if values == 0 {
        return Err(Error::Usage("--values must be at least 1".into()));
    }
    let progress = veil_cli::progress::Progress::start("bench", "function groups", veil_benches::GROUPS as u64);
    let mut started = 0;
    let results = veil_benches::run_all(values, repeats, |_| {
        progress.set_done(started);
        started += 1;
    });
    progress.finish();
    match format {
        Format::Table => {
            println!("{:<34} {:>12} {:>14} {:>12}", "function", "ns/value", "values/s", "vs sha256");
            for m in &results {
                println!("{:<34} {:>12.1} {:>14.0} {:>11.2}x", m.name, m.ns_per_value, m.per_second(), m.vs_sha256);
            }
            println!(
                "\n{values} generated values per function, best of {repeats} runs; ratios are to plain SHA-256 in this run."
            );
        }
        Format::Json => {
            for m in &results {
                let line = serde_json::json!({
                    "function": m.name, "values": m.values, "ns_per_value": m.ns_per_value,
                    "values_per_second": m.per_second(), "vs_sha256": m.vs_sha256,
                });
                println!("{line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
