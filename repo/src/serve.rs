//! `otuf-repo serve`: one process on SQLite and a local folder. With `--dev` and no repository
//! yet it creates a development repository (generated root key, threshold 1) so a working
//! repository exists at once.

use crate::api::{router, App};
use crate::error::{Error, Result};
use crate::publish::{bin_names, Expiry, Repo};
use crate::sign::{envelope, SigningKey};
use crate::store::Store;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;
use tower_http::services::ServeDir;

/// Serve options.
pub struct Options {
    /// Data folder (database, keys, metadata, targets).
    pub data_dir: std::path::PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Create a development repository when there is none.
    pub dev: bool,
    /// Bins for a development repository (a power of two, 2..16384).
    pub bins: u32,
    /// `scope token` lines enabling bearer-token authentication (None: off, as in RSTUF).
    pub tokens: Option<String>,
}

const EXPIRY: Expiry = Expiry {
    targets: 365,
    snapshot: 1,
    timestamp: 1,
    bins: 1,
};

/// Creates a development repository: root key and online key generated into `data_dir/keys`.
fn bootstrap_dev(data_dir: &Path, store: &Store, bins: u32) -> Result<()> {
    tracing::warn!("DEVELOPMENT repository: root key generated on this machine, threshold 1 — never use it in a plant");
    let keys = data_dir.join("keys");
    std::fs::create_dir_all(&keys).map_err(Error::io(keys.display()))?;
    let (root, online) = (SigningKey::generate()?, SigningKey::generate()?);
    root.save(&keys.join("root-DEVELOPMENT-ONLY.pem"))?;
    online.save(&keys.join("online.pem"))?;
    let expires = crate::publish::expires::format(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            + 365 * 86_400,
    );
    let role = |k: &SigningKey| json!({"keyids": [k.keyid], "threshold": 1});
    let signed: Value = json!({
        "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": expires, "consistent_snapshot": true,
        "keys": {root.keyid.clone(): root.public.clone(), online.keyid.clone(): online.public.clone()},
        "roles": {"root": role(&root), "timestamp": role(&online), "snapshot": role(&online), "targets": role(&online)},
    });
    let metadata = data_dir.join("metadata");
    std::fs::create_dir_all(&metadata).map_err(Error::io(metadata.display()))?;
    crate::publish::write_atomic(&metadata.join("1.root.json"), &envelope(&signed, &[&root])?)?;
    let bit_length = bins.max(2).ilog2();
    store.set_setting("bit_length", &bit_length.to_string())?;
    store.set_setting("root_version", "1")?;
    store.set_setting("online_key", &keys.join("online.pem").display().to_string())?;
    store.set_setting("bootstrap", &uuid::Uuid::new_v4().simple().to_string())?;
    Ok(())
}

/// Opens the repository in `data_dir`, if it has been bootstrapped.
pub fn open(data_dir: &Path) -> Result<Option<Repo>> {
    std::fs::create_dir_all(data_dir).map_err(Error::io(data_dir.display()))?;
    let store = Store::open(&data_dir.join("otuf.sqlite3"))?;
    let Some(key) = store.setting("online_key")? else {
        return Ok(None);
    };
    let bit_length = store
        .setting("bit_length")?
        .and_then(|b| b.parse().ok())
        .unwrap_or(8);
    let online = SigningKey::load(Path::new(&key))?;
    Ok(Some(Repo::open(
        data_dir, store, online, bit_length, EXPIRY,
    )?))
}

/// Runs the service until interrupted.
pub async fn serve(opts: Options) -> Result<()> {
    let mut repo = open(&opts.data_dir)?;
    if repo.is_none() && opts.dev {
        let store = Store::open(&opts.data_dir.join("otuf.sqlite3"))?;
        bootstrap_dev(&opts.data_dir, &store, opts.bins)?;
        drop(store);
        let r = open(&opts.data_dir)?
            .ok_or_else(|| Error::State("development bootstrap failed".into()))?;
        r.publish(&bin_names(r.bit_length).into_iter().collect(), true)?;
        repo = Some(r);
    }
    let repo = repo.map(Arc::new);
    let wake = Arc::new(Notify::new());
    if let Some(repo) = &repo {
        tokio::spawn(crate::tasks::worker(repo.clone(), wake.clone()));
    } else {
        tracing::info!("no repository yet: waiting for a bootstrap (or start with --dev)");
    }
    let tokens = match &opts.tokens {
        Some(text) => {
            crate::api::parse_tokens(text).map_err(|e| Error::State(format!("tokens: {e}")))?
        }
        None => Vec::new(),
    };
    if !tokens.is_empty() {
        tracing::info!("bearer-token authentication on ({} token(s))", tokens.len());
    }
    let (record, queue) = tokio::sync::mpsc::unbounded_channel();
    if let Some(repo) = &repo {
        tokio::spawn(crate::api::recorder(repo.clone(), queue, wake.clone()));
    }
    let mut app = router(App {
        repo: repo.clone(),
        wake,
        tokens: Arc::new(tokens),
        record,
    });
    if let Some(repo) = &repo {
        app = app
            .nest_service("/metadata", ServeDir::new(&repo.metadata_dir))
            .nest_service("/targets", ServeDir::new(&repo.targets_dir));
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(Error::io(opts.listen))?;
    tracing::info!(
        "otuf-repo listening on http://{}",
        listener.local_addr().map_err(Error::io(opts.listen))?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(Error::io("server"))
}
