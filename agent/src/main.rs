//! otuf-agent: a thin shell over the agent library.

use clap::Parser;
use otuf_agent::cli::{Cli, ClientArgs, Command, Verb};
use otuf_agent::client::fetch::{FetchConfig, Fetcher};
use otuf_agent::client::Updater;
use otuf_agent::device::check;
use otuf_agent::device::config::Config;
use otuf_agent::device::journal::Journal;
use otuf_agent::device::select::Decision;
use otuf_agent::device::update::Cycle;
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
            Command::Init { root } => init(&cli.config, root),
            Command::Check { json } => check(&cli.config, json).await,
            Command::Update => update(&cli.config).await,
            Command::InstallBundle { dir } => install_bundle(&cli.config, &dir).await,
            Command::Run => {
                let config = Config::load(&cli.config)?;
                otuf_agent::device::update::run_forever(&config).await
            }
            Command::Status { json } => status(&cli.config, json),
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

fn init(config: &std::path::Path, root: Option<std::path::PathBuf>) -> Result<()> {
    let config = Config::load(config)?;
    let root = root.or(config.repository.root.clone()).ok_or_else(|| {
        Error::Usage("no root to trust: set repository.root or pass --root".into())
    })?;
    let bytes = std::fs::read(&root).map_err(Error::io(&root))?;
    Updater::init(&check::metadata_dir(&config), &bytes)?;
    tracing::info!("trusting {} from now on", root.display());
    Ok(())
}

async fn check(config: &std::path::Path, json: bool) -> Result<()> {
    let config = Config::load(config)?;
    let state = Journal::open(&config.state_dir)?.state()?;
    let checked = check::check(&config, &state).await?;
    let installed = check::installed_version(&config, &state).map(|v| v.to_string());
    let (action, line) = match &checked.decision {
        Decision::Install {
            path,
            version,
            rollback,
        } => (
            if *rollback { "rollback" } else { "install" },
            format!(
                "would install {path} ({version}, installed: {})",
                installed.as_deref().unwrap_or("unknown")
            ),
        ),
        Decision::UpToDate => (
            "none",
            format!("up to date ({})", installed.as_deref().unwrap_or("unknown")),
        ),
        Decision::Refused(why) => ("refused", format!("nothing installed: {why}")),
        Decision::NothingForThisDevice => (
            "none",
            format!(
                "no artifact for hardware {} on channel {}",
                config.device.hardware, config.device.channel
            ),
        ),
    };
    if json {
        let target = match &checked.decision {
            Decision::Install { path, version, .. } => {
                serde_json::json!({"path": path, "version": version.to_string()})
            }
            _ => serde_json::Value::Null,
        };
        println!(
            "{}",
            serde_json::json!({"action": action, "target": target, "installed": installed,
                               "message": line, "mirror": checked.mirror,
                               "metadata": checked.metadata})
        );
    } else {
        println!("{line}");
    }
    Ok(())
}

async fn install_bundle(config: &std::path::Path, dir: &std::path::Path) -> Result<()> {
    let mut config = Config::load(config)?;
    let dir = dir.canonicalize().map_err(Error::io(dir))?;
    config.repository.mirrors = vec![otuf_agent::device::config::Mirror {
        metadata: format!("file://{}/metadata", dir.display()),
        targets: format!("file://{}/targets", dir.display()),
    }];
    config.maintenance = None;
    report(otuf_agent::device::update::update(&config).await?)
}

async fn update(config: &std::path::Path) -> Result<()> {
    let config = Config::load(config)?;
    report(otuf_agent::device::update::update(&config).await?)
}

/// Prints how a cycle ended; a rollback is a failure.
fn report(cycle: Cycle) -> Result<()> {
    match cycle {
        Cycle::Installed { target, version } => println!("installed {target} ({version})"),
        Cycle::RolledBack(why) => {
            println!("rolled back: {why}");
            return Err(Error::Usage(format!(
                "the installation was rolled back: {why}"
            )));
        }
        Cycle::Nothing(why) => println!("{why}"),
        Cycle::Switched(what) => println!("{what}"),
        Cycle::Waiting(why) => println!("{why}"),
    }
    Ok(())
}

fn status(config: &std::path::Path, json: bool) -> Result<()> {
    let config = Config::load(config)?;
    let journal = Journal::open(&config.state_dir)?;
    let (state, history) = (journal.state()?, journal.history()?);
    if json {
        println!(
            "{}",
            serde_json::json!({"state": state, "history": history})
        );
        return Ok(());
    }
    match &state.installed {
        Some(i) => println!("installed:  {} ({}) since {}", i.version, i.target, i.since),
        None => println!(
            "installed:  {} (before the agent's first installation)",
            config
                .device
                .installed_version
                .as_deref()
                .unwrap_or("unknown")
        ),
    }
    if let Some(t) = state.last_check {
        println!("last check: {t}");
    }
    if let Some(e) = &state.last_error {
        println!("last error: {e}");
    }
    if let Some(p) = &state.pending {
        println!("under way:  {} ({}), {:?}", p.target, p.version, p.phase);
    }
    for r in history.iter().rev().take(10) {
        println!(
            "history:    {} {} {:?}{}",
            r.at,
            r.version,
            r.outcome,
            r.detail
                .as_ref()
                .map_or(String::new(), |d| format!(": {d}"))
        );
    }
    Ok(())
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
