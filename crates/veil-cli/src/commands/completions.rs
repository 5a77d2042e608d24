//! `veil completions`: shell completion scripts.

use std::process::ExitCode;

use clap_complete::Shell;
use veil_cli::Result;

/// Print a completion script for a shell, e.g. `veil completions bash >
/// ~/.local/share/bash-completion/completions/veil`, `veil completions zsh >
/// "${fpath[1]}/_veil"`, `veil completions fish > ~/.config/fish/completions/veil.fish`.
#[derive(clap::Args)]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Run `veil completions` for the command line `command`.
pub fn run(args: Args, mut command: clap::Command) -> Result<ExitCode> {
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
