//! RSTUF's load scenarios against an otuf-repo on this machine, one run each: N concurrent
//! requests of M artifacts (`POST /api/v1/artifacts/`), each request then polling its own task
//! every 10 ms until it succeeds, so the figures are the service's and not a client's sweep.
//! Prints artifacts/s (from the first request to the last task's success) and task latency
//! p50/max, beside RSTUF's figures on this machine type (RSTUF-API.md).
//!
//!     otuf-load BASE_URL[,BASE_URL...] [SCENARIO ...]   scenarios: 100x2 50x50 1x5000 (default: all)
//!
//! With several base URLs (service processes sharing one state), request `i` goes to the
//! `i % n`-th, and polls its task there.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How often each request polls its task: often enough that the figures resolve a few
/// milliseconds, seldom enough that 100 pollers do not take the service's two cores.
const POLL_MS: u64 = 10;

/// RSTUF on this machine type: artifacts/s and p50 (s) where reported.
const RSTUF: [(&str, f64, Option<f64>); 3] = [
    ("100x2", 1.3, Some(80.0)),
    ("50x50", 12.4, None),
    ("1x5000", 48.0, None),
];

/// One request: the time until its 202, and until its task succeeded.
async fn one(
    http: &reqwest::Client,
    base: &str,
    run: usize,
    i: usize,
    per: usize,
) -> (Duration, Duration) {
    let artifacts: Vec<Value> = (0..per)
        .map(|j| {
            json!({"path": format!("load/{run}/{i}/{j}.bin"),
                   "info": {"length": 1000 + j, "hashes": {"sha256": format!("{i:032x}{j:032x}")}}})
        })
        .collect();
    let sent = Instant::now();
    let reply: Value = http
        .post(format!("{base}/api/v1/artifacts/"))
        .json(&json!({"artifacts": artifacts}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("POST /api/v1/artifacts/")
        .json()
        .await
        .expect("a JSON reply");
    let task = reply["data"]["task_id"]
        .as_str()
        .expect("a task id")
        .to_string();
    let accepted = sent.elapsed();
    loop {
        let t: Value = http
            .get(format!("{base}/api/v1/task/?task_id={task}"))
            .send()
            .await
            .expect("GET /api/v1/task/")
            .json()
            .await
            .expect("a JSON reply");
        match t["data"]["state"].as_str() {
            Some("SUCCESS") if t["data"]["result"]["status"] == json!(true) => {
                return (accepted, sent.elapsed())
            }
            Some("SUCCESS" | "ERRORED" | "FAILURE") => panic!("task {task} failed: {t}"),
            _ => tokio::time::sleep(Duration::from_millis(POLL_MS)).await,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bases: Vec<String> = args
        .first()
        .expect("usage: otuf-load BASE_URL[,BASE_URL...] [SCENARIO ...]")
        .split(',')
        .map(|b| b.trim_end_matches('/').to_string())
        .collect();
    let wanted: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        RSTUF.iter().map(|r| r.0).collect()
    };
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client");
    println!(
        "{:10} {:>12} {:>9} {:>9} {:>9}   {:24} {:>7}",
        "scenario", "artifacts/s", "p50", "max", "accepted", "RSTUF artifacts/s (p50)", "ratio"
    );
    for (run, (name, ref_rate, ref_p50)) in RSTUF.iter().enumerate() {
        if !wanted.contains(name) {
            continue;
        }
        let (requests, per): (usize, usize) = name
            .split_once('x')
            .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
            .unwrap();
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..requests {
            let (http, base) = (http.clone(), bases[i % bases.len()].clone());
            tasks.spawn(async move { one(&http, &base, run, i, per).await });
        }
        // `accepted`: when the last 202 arrived (every task durable).
        let (mut latencies, mut accepted) = (Vec::with_capacity(requests), Duration::ZERO);
        while let Some(r) = tasks.join_next().await {
            let (a, l) = r.expect("a request task");
            accepted = accepted.max(a);
            latencies.push(l);
        }
        let total = start.elapsed();
        latencies.sort();
        let rate = (requests * per) as f64 / total.as_secs_f64();
        let (p50, max) = (
            latencies[latencies.len() / 2],
            latencies[latencies.len() - 1],
        );
        let reference = format!(
            "{ref_rate:6.1}{}",
            ref_p50.map_or(String::new(), |p| format!(" ({p:.0} s)"))
        );
        println!(
            "{name:10} {rate:12.0} {:7.0}ms {:7.0}ms {:7.0}ms   {reference:24} {:6.0}x",
            p50.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            accepted.as_secs_f64() * 1e3,
            rate / ref_rate
        );
    }
}
