//! otuf-repo: a thin shell over the service library: `serve`, and the operator commands.

use clap::{Parser, Subcommand};
use otuf_repo::cli;
use otuf_repo::config::ServeSettings;
use std::path::PathBuf;
use std::process::ExitCode;

/// otuf-repo: a TUF repository service for OT firmware.
#[derive(Parser)]
#[command(name = "otuf-repo", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API under /api/v1/, metadata under /metadata/ and artifacts under /targets/.
    Serve {
        /// A TOML file of these settings (keys as the flags, with `_`: `data_dir`, `listen`,
        /// ...). Flags and OTUF_* variables take precedence over it.
        #[arg(long, env = "OTUF_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: ServeSettings,
    },
    /// Offline: write a bootstrap payload (root v1 and settings), as `rstuf admin ceremony --out`.
    Ceremony(cli::ceremony::Ceremony),
    /// Offline: generate a key pair into a PEM file (for root keys and the online key).
    Keygen(cli::ceremony::Keygen),
    /// Upload a firmware image and wait until it is published.
    Publish(cli::artifacts::Publish),
    /// Remove artifacts and wait until the removal is published.
    Delete(cli::artifacts::Delete),
    /// Sign the root metadata waiting for signatures with an offline root key.
    Sign(cli::sign::Sign),
    /// Show where the service stands: bootstrap, root, online key, pending signatures, expiry.
    Status(cli::status::Status),
    /// Write the web portal's files (the page and its wasm verifier) into a folder, for a static
    /// server or a CDN in front of `metadata/` and `targets/`.
    Portal {
        /// The folder to write `index.html` and `portal/` into (the root the server serves).
        #[arg(long)]
        out: PathBuf,
    },
    /// Update bundles for air-gapped devices (`otuf-agent install-bundle`).
    #[command(subcommand)]
    Bundle(cli::bundle::Bundle),
}

fn serve(config: Option<PathBuf>, flags: ServeSettings) -> Result<(), String> {
    let from_file = match &config {
        Some(path) => ServeSettings::from_file(path).map_err(|e| e.to_string())?,
        None => ServeSettings::default(),
    };
    let s = flags.or(from_file).resolve().map_err(|e| e.to_string())?;
    let tokens = s
        .tokens_file
        .as_ref()
        .map(|f| std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display())))
        .transpose()?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .block_on(otuf_repo::serve::serve(otuf_repo::serve::Options {
            data_dir: s.data_dir,
            keys_dir: s.online_key_dir,
            listen: s.listen,
            dev: s.dev,
            bins: s.bins,
            path_hash_prefixes: s.path_hash_prefixes,
            tokens,
            state: s.state,
            storage: s.storage,
            housekeeping: s.housekeeping,
        }))
        .map_err(|e| e.to_string())
}

/// Runs an operator command that talks to a service.
fn client<F: std::future::Future<Output = Result<(), String>>>(f: F) -> Result<(), String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(f)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "otuf_repo=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve { config, settings } => serve(config, settings),
        Command::Ceremony(c) => client(c.run()),
        Command::Keygen(k) => k.run(),
        Command::Publish(p) => client(p.run()),
        Command::Delete(d) => client(d.run()),
        Command::Sign(s) => client(s.run()),
        Command::Status(s) => client(s.run()),
        Command::Bundle(cli::bundle::Bundle::Export(e)) => e.run(),
        Command::Portal { out } => {
            otuf_repo::portal::export(&out).map_err(|e| format!("{}: {e}", out.display()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
