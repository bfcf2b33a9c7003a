//! otuf-repo: a thin shell over the service library.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
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
        /// Database, keys, metadata and artifacts live here.
        #[arg(long, env = "OTUF_DATA_DIR", default_value = "./otuf-data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, env = "OTUF_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// With no repository yet, create a development one (generated root key, threshold 1).
        #[arg(long, env = "OTUF_DEV")]
        dev: bool,
        /// Hash bins of a development repository (a power of two, 2 to 16384).
        #[arg(long, env = "OTUF_BINS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(2..=16384))]
        bins: u32,
        /// Classic `path_hash_prefixes` bins for a development repository (for clients without
        /// TAP 15, such as tough), instead of succinct hash bins.
        #[arg(long, env = "OTUF_PATH_HASH_PREFIXES")]
        path_hash_prefixes: bool,
        /// Directory of online key files, which root names by `x-rstuf-online-key-uri: fn:<file>`
        /// [default: <data dir>/keys].
        #[arg(long, env = "OTUF_ONLINE_KEY_DIR")]
        online_key_dir: Option<PathBuf>,
        /// File of `scope token` lines (scope `publish` or `admin`): every write then needs
        /// `Authorization: Bearer <token>` of the right scope. Off by default, as in RSTUF.
        #[arg(long, env = "OTUF_TOKENS_FILE")]
        tokens_file: Option<PathBuf>,
    },
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
    let Command::Serve {
        data_dir,
        listen,
        dev,
        bins,
        path_hash_prefixes,
        online_key_dir,
        tokens_file,
    } = cli.command;
    let tokens = match tokens_file
        .map(|f| std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display())))
        .transpose()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(otuf_repo::serve::serve(otuf_repo::serve::Options {
        data_dir,
        keys_dir: online_key_dir,
        listen,
        dev,
        bins,
        path_hash_prefixes,
        tokens,
    })) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
