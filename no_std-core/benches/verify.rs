//! Verifying the 16,384-bin snapshot and one hash bin with ed25519, in general and streaming
//! mode (tests/fixtures/bench, made by generate_bench.py). `tests/bench/compare.sh` runs this
//! beside python-tuf on the same files and prints the ratios.
//!
//! With `OTUF_BENCH_CASE=group/case` (`snapshot-16384/general`, ...) and `OTUF_BENCH_COUNT=n`,
//! it runs that case n times instead, each through [`measured`], for
//! `tests/bench/instructions.sh` to count its instructions under callgrind (repeatable where
//! wall time on a shared machine is not).

// criterion's macros generate the undocumented `benches`.
#![allow(missing_docs)]

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use otuf_core::client::Client;
use otuf_core::limits::Limits;
use otuf_core::metadata::{delegations_for_target, Matches};
use otuf_core::time::UnixTime;
use otuf_core::trusted::{Input, NoReader, TrustedSet};
use std::path::PathBuf;

/// A file of the bench fixture (`OTUF_BENCH_FIXTURES`, else this checkout's).
fn read(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("OTUF_BENCH_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bench"),
        PathBuf::from,
    );
    std::fs::read(dir.join(name)).unwrap()
}

const NOW: i64 = 1_767_225_600;

/// The files and the trusted states each case starts from.
struct Fixture {
    snapshot: Vec<u8>,
    bin: Vec<u8>,
    targets: Vec<u8>,
    bin_role: String,
    path: String,
    /// The state a device is in just before the snapshot: root and timestamp trusted.
    before_snapshot: TrustedSet,
    /// ... and before the bin: snapshot and targets trusted too.
    before_bin: TrustedSet,
    /// The bin's delegation, from `targets.json`.
    matches: Matches,
}

impl Fixture {
    fn load() -> Self {
        let info: serde_json::Value = serde_json::from_slice(&read("info.json")).unwrap();
        let bin_role = info["bin_role"].as_str().unwrap().to_string();
        let path = info["bin_targets"][0].as_str().unwrap().to_string();
        let (root, timestamp, snapshot, targets, bin) = (
            read("root.json"),
            read("timestamp.json"),
            read("snapshot.json"),
            read("targets.json"),
            read("bin.json"),
        );
        let mut before_snapshot = TrustedSet::new(&root, UnixTime(NOW), Limits::default()).unwrap();
        before_snapshot
            .update_timestamp(Input::<NoReader>::Bytes(&timestamp))
            .unwrap();
        let mut client = Client::new(&root, UnixTime(NOW), Limits::default()).unwrap();
        client.not_found().unwrap();
        for file in [&timestamp, &snapshot, &targets] {
            client.handle(file).unwrap();
        }
        let before_bin = client.trusted().clone();
        let targets_json: serde_json::Value = serde_json::from_slice(&targets).unwrap();
        let delegations = serde_json::to_vec(&targets_json["signed"]["delegations"]).unwrap();
        let matches = delegations_for_target(&delegations, &path).unwrap();
        assert_eq!(matches.roles[0].name.as_str(), bin_role);
        Self {
            snapshot,
            bin,
            targets,
            bin_role,
            path,
            before_snapshot,
            before_bin,
            matches,
        }
    }

    /// The snapshot verified on `set` (a copy of `before_snapshot`), streamed through `chunk`
    /// or, without one, as a buffer (general mode).
    fn snapshot(&self, mut set: TrustedSet, chunk: Option<&mut [u8]>) {
        let input = match chunk {
            Some(chunk) => Input::Stream {
                reader: &self.snapshot[..],
                chunk,
            },
            None => Input::Bytes(&self.snapshot),
        };
        set.update_snapshot(input, false).unwrap();
    }

    /// The bin verified against its delegation, as `snapshot` does.
    fn bin(&self, chunk: Option<&mut [u8]>) {
        let input = match chunk {
            Some(chunk) => Input::Stream {
                reader: &self.bin[..],
                chunk,
            },
            None => Input::Bytes(&self.bin),
        };
        let authority = (&self.matches.keys[..], &self.matches.roles[0].role);
        self.before_bin
            .verify_targets(input, &self.bin_role, authority, Some(&self.path))
            .unwrap();
    }
}

/// One iteration of a case: out of line, so that callgrind counts it alone
/// (`--toggle-collect=*measured*`), without the set-up around it.
#[inline(never)]
fn measured(f: impl FnOnce()) {
    f()
}

fn bench(c: &mut Criterion) {
    let fx = Fixture::load();
    let mut g = c.benchmark_group("snapshot-16384");
    g.throughput(Throughput::Bytes(fx.snapshot.len() as u64));
    g.sample_size(30);
    g.bench_function("general", |b| {
        b.iter_batched(
            || fx.before_snapshot.clone(),
            |set| fx.snapshot(set, None),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("streaming", |b| {
        let mut chunk = [0u8; 1024];
        b.iter_batched(
            || fx.before_snapshot.clone(),
            |set| fx.snapshot(set, Some(&mut chunk)),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("bin-50");
    g.throughput(Throughput::Bytes(fx.bin.len() as u64));
    g.bench_function("general", |b| b.iter(|| fx.bin(None)));
    g.bench_function("streaming", |b| {
        let mut chunk = [0u8; 1024];
        b.iter(|| fx.bin(Some(&mut chunk)))
    });
    // The floor under any verifier: the bin's one ed25519 signature checked over its canonical
    // bytes, prepared in advance (no parsing, no canonicalisation, no other check).
    let doc: serde_json::Value = serde_json::from_slice(&fx.bin).unwrap();
    let targets_json: serde_json::Value = serde_json::from_slice(&fx.targets).unwrap();
    let canonical =
        otuf_core::json::canonicalize(&serde_json::to_vec(&doc["signed"]).unwrap()).unwrap();
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let keyid = doc["signatures"][0]["keyid"].as_str().unwrap();
    let key = &targets_json["signed"]["delegations"]["keys"][keyid]["keyval"]["public"];
    let key = ed25519_compact::PublicKey::from_slice(&unhex(key.as_str().unwrap())).unwrap();
    let sig = ed25519_compact::Signature::from_slice(&unhex(
        doc["signatures"][0]["sig"].as_str().unwrap(),
    ))
    .unwrap();
    g.bench_function("ed25519-floor", |b| {
        b.iter(|| key.verify(&canonical, &sig).unwrap())
    });
    g.finish();
}

/// Counting mode: `case` run `times` times, each iteration through `measured`.
fn count(case: &str, times: usize) {
    let fx = Fixture::load();
    let mut chunk = [0u8; 1024];
    for _ in 0..times {
        match case {
            "snapshot-16384/general" | "snapshot-16384/streaming" => {
                let set = fx.before_snapshot.clone();
                let chunk = case.ends_with("streaming").then_some(&mut chunk[..]);
                measured(|| fx.snapshot(set, chunk));
            }
            "bin-50/general" => measured(|| fx.bin(None)),
            "bin-50/streaming" => measured(|| fx.bin(Some(&mut chunk))),
            _ => panic!("no case {case}"),
        }
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(case) = std::env::var("OTUF_BENCH_CASE") {
        let times = std::env::var("OTUF_BENCH_COUNT").map_or(1, |n| n.parse().unwrap());
        return count(&case, times);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
