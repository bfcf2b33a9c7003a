//! `otuf-repo serve`: one process on SQLite and a local folder. With `--dev` and no repository
//! yet it creates a development repository (generated root key, threshold 1) so a working
//! repository exists at once.

use crate::api::{router, App};
use crate::error::{Error, Result};
use crate::publish::{Bootstrap, Repo};
use crate::sign::{envelope, SigningKey};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::services::ServeDir;

/// Serve options.
pub struct Options {
    /// Data folder (database, metadata, targets).
    pub data_dir: std::path::PathBuf,
    /// Where `fn:` online key URIs point (default `<data dir>/keys`).
    pub keys_dir: Option<std::path::PathBuf>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Create a development repository when there is none.
    pub dev: bool,
    /// Bins for a development repository (a power of two, 2..16384).
    pub bins: u32,
    /// Classic `path_hash_prefixes` bins for a development repository.
    pub path_hash_prefixes: bool,
    /// `scope token` lines enabling bearer-token authentication (None: off, as in RSTUF).
    pub tokens: Option<String>,
    /// The state database's URL (None: SQLite in the data folder).
    pub state: Option<String>,
    /// The storage's URL (None: the data folder).
    pub storage: Option<String>,
    /// What housekeeping keeps.
    pub housekeeping: crate::housekeeping::Policy,
}

/// Creates a development repository: a root key (threshold 1) and the online key generated
/// into the key directory, bootstrapped exactly as a ceremony payload would be.
fn bootstrap_dev(repo: &Repo, bins: u32, path_hash_prefixes: bool) -> Result<()> {
    tracing::warn!("DEVELOPMENT repository: root key generated on this machine, threshold 1 — never use it in a plant");
    let keys = &repo.keys_dir;
    std::fs::create_dir_all(keys).map_err(Error::io(keys.display()))?;
    let (root, online) = (SigningKey::generate()?, SigningKey::generate()?);
    root.save(&keys.join("root-DEVELOPMENT-ONLY.pem"))?;
    online.save(&keys.join("online.pem"))?;
    let expires = crate::publish::expires::format(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            + 365 * 86_400,
    );
    let mut online_key = online.public.clone();
    online_key["x-rstuf-key-name"] = json!("online");
    online_key["x-rstuf-online-key-uri"] = json!("fn:online.pem");
    // Key ID of the whole key object, the strict form every client accepts.
    let online_id = crate::sign::key_id(&online_key)?;
    let role = |id: &str| json!({"keyids": [id], "threshold": 1});
    let signed: Value = json!({
        "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": expires, "consistent_snapshot": true,
        "keys": {root.keyid.clone(): root.public.clone(), online_id.clone(): online_key},
        "roles": {"root": role(&root.keyid), "timestamp": role(&online_id), "snapshot": role(&online_id), "targets": role(&online_id)},
    });
    let payload = json!({
        "settings": {"roles": {"bins": {"number_of_delegated_bins": bins,
                                        "x-otuf-path-hash-prefixes": path_hash_prefixes}}},
        "metadata": {"root": serde_json::from_slice::<Value>(&envelope(&signed, &[&root])?)?},
    });
    let id = uuid::Uuid::new_v4().simple().to_string();
    let outcome = crate::root::bootstrap(repo, &id, &payload)?;
    if !outcome.status {
        return Err(Error::State(format!(
            "development bootstrap: {}",
            outcome.error.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Runs the service until interrupted.
pub async fn serve(opts: Options) -> Result<()> {
    let keys_dir = opts
        .keys_dir
        .clone()
        .unwrap_or_else(|| opts.data_dir.join("keys"));
    let mut repo = Repo::open(
        &opts.data_dir,
        &keys_dir,
        opts.state.as_deref(),
        opts.storage.as_deref(),
    )?;
    repo.housekeeping = opts.housekeeping;
    let repo = Arc::new(repo);
    let bootstrap = {
        // Processes starting together on one store: the first creates the repository.
        let _lock = repo.store.lock_publication()?;
        let state = repo.bootstrap()?;
        if state == Bootstrap::Available && opts.dev {
            bootstrap_dev(&repo, opts.bins, opts.path_hash_prefixes)?;
            repo.note_generation()?;
        }
        state
    };
    match bootstrap {
        Bootstrap::Available if opts.dev => {}
        Bootstrap::Available => {
            tracing::info!(
                "no repository yet: waiting for a bootstrap through the API (or start with --dev)"
            )
        }
        Bootstrap::Pre(_) | Bootstrap::Signing(_) => {
            tracing::info!("bootstrap in progress: waiting for root signatures")
        }
        Bootstrap::Finished(_) => {}
    }
    let wake = Arc::new(crate::tasks::Wake::default());
    tokio::spawn(crate::tasks::worker(repo.clone(), wake.clone()));
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
    tokio::spawn(crate::api::recorder(repo.clone(), queue, wake.clone()));
    let app = router(App {
        repo: repo.clone(),
        wake,
        tokens: Arc::new(tokens),
        record,
    });
    let app = match repo.storage.local_dir("") {
        Some(dir) => app
            .nest_service("/metadata", ServeDir::new(dir.join("metadata")))
            .nest_service("/targets", ServeDir::new(dir.join("targets"))),
        // Any process serves what is in the object store (devices may also read the bucket).
        None => {
            let from = |dir: &'static str| {
                let repo = repo.clone();
                axum::routing::get(
                    move |axum::extract::Path(key): axum::extract::Path<String>,
                          headers: axum::http::HeaderMap| {
                        let repo = repo.clone();
                        async move {
                            let range = headers
                                .get(axum::http::header::RANGE)
                                .and_then(|v| v.to_str().ok());
                            repo.storage.serve(&format!("{dir}/{key}"), range).await
                        }
                    },
                )
            };
            app.route("/metadata/{*key}", from("metadata"))
                .route("/targets/{*key}", from("targets"))
        }
    };
    let scraped = repo.clone();
    let app = app
        .merge(crate::portal::router())
        .route(
            "/metrics",
            axum::routing::get(move || {
                let repo = scraped.clone();
                async move {
                    let text = crate::blocking::sync(|| repo.metrics.render(&repo));
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        text,
                    )
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(repo.clone(), count));
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

/// Counts each request by route family and status (`/metrics`).
async fn count(
    axum::extract::State(repo): axum::extract::State<Arc<Repo>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = crate::metrics::route(req.uri().path());
    let response = next.run(req).await;
    repo.metrics.request(route, response.status().as_u16());
    response
}
