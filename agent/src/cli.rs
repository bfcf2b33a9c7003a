//! The command line. Exit status: 0 on success, 1 on any failure (usage errors too: never 2).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// otuf-agent: TUF-secured firmware updates for OT devices.
#[derive(Parser, Debug)]
#[command(name = "otuf-agent", version)]
pub struct Cli {
    /// Debug logging.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// The device's configuration (`init`, `check`).
    #[arg(long, global = true, default_value = "/etc/otuf/agent.toml")]
    pub config: PathBuf,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Agent commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// A plain TUF client: refresh metadata and download verified targets.
    Client(ClientArgs),
    /// Trusts the configured root (`repository.root`, or `--root`) from now on: a device's
    /// first configuration.
    Init {
        /// The root metadata to trust instead of the configured one.
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Says what would be installed and why, changing nothing.
    Check {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// One update cycle now: check, download, and (inside a maintenance window) install.
    Update,
    /// The daemon: update cycles for ever, `poll.interval_secs` (plus jitter) apart.
    Run,
    /// Air-gapped: one update cycle from a bundle folder (`otuf-repo bundle export`, on a USB
    /// stick), verified through the full TUF workflow exactly as from a mirror; maintenance
    /// windows do not apply (an operator is there).
    InstallBundle {
        /// The bundle folder (holding `metadata/` and `targets/`).
        dir: PathBuf,
    },
    /// The installed firmware, the last check and error, an update under way, the history.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `otuf-agent client [OPTIONS] <init ROOT | refresh | download>`.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    /// Folder of trusted metadata.
    #[arg(long)]
    pub metadata_dir: PathBuf,
    /// Base URL of the repository's metadata.
    #[arg(long)]
    pub metadata_url: Option<String>,
    /// Target path to download (repeatable: processed in order, the first failure stops).
    #[arg(long = "target-name")]
    pub target_names: Vec<String>,
    /// Folder for verified targets.
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
    /// Base URL of the repository's targets.
    #[arg(long)]
    pub target_base_url: Option<String>,
    /// Seconds to wait for a connection and for each chunk of a body.
    #[arg(long, default_value_t = 10)]
    pub stall_timeout: u64,
    /// Lowest average transfer speed accepted after the first 5 seconds (bytes/s).
    #[arg(long, default_value_t = 1024)]
    pub min_speed: u64,
    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// Client verbs.
#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Trust ROOT (a root.json) from now on.
    Init {
        /// The initial trusted root.
        root: PathBuf,
    },
    /// Update the top-level metadata.
    Refresh,
    /// Refresh, then download each --target-name into --target-dir.
    Download,
}
