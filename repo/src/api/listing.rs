//! `GET /api/v1/artifacts`: the artifacts the service holds, newest first, by pages, searched
//! by a substring of the path and filtered by `custom.hardware`, `channel` and `version`. The
//! listing is a hint for people (the portal): what a client may trust is only what the signed
//! metadata says, and the portal checks every entry it shows against it.

use super::{invalid, refuse, reply, App};
use crate::store::Listing;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A page's default and largest size.
const PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// The query's members, each checked: anything else is a 422 naming it.
fn parse(query: &HashMap<String, String>) -> Result<Listing, Response> {
    let mut listing = Listing {
        limit: PAGE,
        ..Listing::default()
    };
    for (name, value) in query {
        let bad = |msg: &str| invalid(json!(["query", name]), msg.to_string(), &json!(value));
        match name.as_str() {
            "path" => listing.path = Some(value.clone()),
            "hardware" => listing.hardware = Some(value.clone()),
            "channel" => listing.channel = Some(value.clone()),
            "version" => listing.version = Some(value.clone()),
            "before" => {
                listing.before = Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| bad("before must be a positive integer (a page's next)"))?,
                );
            }
            "limit" => {
                listing.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        bad(&format!("limit must be an integer from 1 to {MAX_PAGE}"))
                    })?;
            }
            _ => {
                return Err(bad(
                    "unknown query parameter (path, hardware, channel, version, before, limit)",
                ))
            }
        }
    }
    Ok(listing)
}

/// `GET /api/v1/artifacts`: one page, and the `next` position to ask for the one after it.
pub(super) async fn list(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let listing = match parse(&query) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let repo = app.repo.clone();
    let page = tokio::task::spawn_blocking({
        let listing = listing.clone();
        move || {
            repo.store
                .list_artifacts(&listing)
                .map_err(|e| e.to_string())
        }
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match page {
        Ok(rows) => {
            let next = (rows.len() == listing.limit as usize)
                .then(|| rows.last().map(|r| r.position))
                .flatten();
            let artifacts: Vec<Value> = rows
                .into_iter()
                .map(|r| {
                    json!({
                        "path": r.path,
                        "length": r.info.get("length"),
                        "hashes": r.info.get("hashes"),
                        "custom": r.info.get("custom").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            reply(
                StatusCode::OK,
                json!({"artifacts": artifacts, "next": next}),
                "Artifacts.",
            )
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "Listing failed.", &e),
    }
}
