//! otuf-agent: a thin shell over the agent library.

use clap::Parser;
use otuf_agent::cli::{Cli, ClientArgs, Command, Verb};
use otuf_agent::client::fetch::{FetchConfig, Fetcher};
use otuf_agent::client::Updater;
use otuf_agent::error::{Error, Result};
use otuf_core::limits::Limits;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::FAILURE; // 1, never clap's 2
        }
    };
    let level = if cli.verbose { "debug" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Client(args) => client(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn client(args: ClientArgs) -> Result<()> {
    let need = |v: Option<String>, flag: &str| {
        v.ok_or_else(|| Error::Usage(format!("{flag} is required")))
    };
    match &args.verb {
        Verb::Init { root } => {
            let bytes = std::fs::read(root).map_err(Error::io(root))?;
            return Updater::init(&args.metadata_dir, &bytes);
        }
        Verb::Refresh | Verb::Download => {}
    }
    let config = FetchConfig {
        connect_timeout: Duration::from_secs(args.stall_timeout),
        stall_timeout: Duration::from_secs(args.stall_timeout),
        min_speed: args.min_speed,
        ..FetchConfig::default()
    };
    let updater = Updater::new(
        &args.metadata_dir,
        &need(args.metadata_url, "--metadata-url")?,
        Fetcher::new(config)?,
        Limits::default(),
    )?;
    let client = updater.refresh().await?;
    if let Verb::Download = args.verb {
        let base = need(args.target_base_url, "--target-base-url")?;
        let dir = args
            .target_dir
            .ok_or_else(|| Error::Usage("--target-dir is required".into()))?;
        for name in &args.target_names {
            let path = updater.download(&client, name, &base, &dir).await?;
            tracing::info!("{name}: verified, stored as {}", path.display());
        }
    }
    Ok(())
}
