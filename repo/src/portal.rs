//! The web portal at `/`: a page that lists the repository's artifacts and downloads them, with
//! every entry and every download verified in the browser by otuf-core compiled to WebAssembly
//! (`portal/verifier`, built by build.rs). The assets are in the binary; the same files can be
//! served by any static server in front of `metadata/` and `targets/` (see `otuf-repo portal`).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The portal's files: name under `/portal/`, media type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../portal/web/index.html"),
    ),
    (
        "portal.css",
        "text/css; charset=utf-8",
        include_bytes!("../portal/web/portal.css"),
    ),
    (
        "portal.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../portal/web/portal.js"),
    ),
    (
        "verifier.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../portal/web/verifier.js"),
    ),
    (
        "operator.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../portal/web/operator.js"),
    ),
    (
        "verifier.wasm",
        "application/wasm",
        include_bytes!(concat!(env!("OUT_DIR"), "/verifier.wasm")),
    ),
];

/// `/` (the page) and `/portal/<asset>`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new().route("/", get(|| async { asset("index.html") }));
    for (name, _, _) in ASSETS {
        r = r.route(
            &format!("/portal/{name}"),
            get(move || async move { asset(name) }),
        );
    }
    r
}

fn asset(name: &str) -> axum::response::Response {
    let (_, kind, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .copied()
        .unwrap_or(("", "text/plain", b""));
    // Revalidated on every load: a new service version must not run an old verifier.
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], bytes).into_response()
}

/// Writes the portal's files into `dir`, for a static server or a CDN.
pub fn export(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("portal"))?;
    for (name, _, bytes) in ASSETS {
        let path = if *name == "index.html" {
            dir.join(name)
        } else {
            dir.join("portal").join(name)
        };
        std::fs::write(path, bytes)?;
    }
    Ok(())
}
