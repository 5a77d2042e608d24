//! `veil`: tag-driven data access enforcement from the command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// veil enforces tag-driven data access policies inside the engines that hold the data.
#[derive(Parser)]
#[command(name = "veil", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure every enforcement function on generated data, beside plain SHA-256.
    ///
    /// Prints nanoseconds per value, values per second and the ratio to a plain
    /// SHA-256 digest of the same values, measured in the same run (so the ratio
    /// means something on a busy machine). Takes a few seconds at the defaults.
    Bench {
        /// How many generated values each function processes per repetition.
        #[arg(long, default_value_t = 200_000)]
        values: usize,
        /// Repetitions per function; the best is reported.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A table for people.
    Table,
    /// One JSON object per line, for machines.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench { values, repeats, format } => bench(values, repeats, format),
    }
}

fn bench(values: usize, repeats: usize, format: Format) -> ExitCode {
    if values == 0 {
        eprintln!("error: --values must be at least 1");
        return ExitCode::from(2);
    }
    let results = veil_benches::run_all(values, repeats, |name| eprintln!("measuring {name} ..."));
    match format {
        Format::Table => {
            println!("{:<34} {:>12} {:>14} {:>12}", "function", "ns/value", "values/s", "vs sha256");
            for m in &results {
                println!("{:<34} {:>12.1} {:>14.0} {:>11.2}x", m.name, m.ns_per_value, m.per_second(), m.vs_sha256);
            }
            println!("\n{values} generated values per function, best of {repeats} runs; ratios are to plain SHA-256 in this run.");
        }
        Format::Json => {
            for m in &results {
                println!(
                    "{{\"function\":{:?},\"values\":{},\"ns_per_value\":{:.2},\"values_per_second\":{:.0},\"vs_sha256\":{:.3}}}",
                    m.name,
                    m.values,
                    m.ns_per_value,
                    m.per_second(),
                    m.vs_sha256
                );
            }
        }
    }
    ExitCode::SUCCESS
}
