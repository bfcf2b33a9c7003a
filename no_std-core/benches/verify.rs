//! Verifying the 16,384-bin snapshot and one hash bin with ed25519, in general and streaming
//! mode (tests/fixtures/bench, made by generate_bench.py). `tests/bench/compare.sh` runs this
//! beside python-tuf on the same files and prints the ratios.

// criterion's macros generate the undocumented `benches` and `main`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use otuf_core::client::Client;
use otuf_core::limits::Limits;
use otuf_core::metadata::delegations_for_target;
use otuf_core::time::UnixTime;
use otuf_core::trusted::{Input, NoReader, TrustedSet};
use std::path::PathBuf;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/bench")
            .join(name),
    )
    .unwrap()
}

const NOW: i64 = 1_767_225_600;

fn bench(c: &mut Criterion) {
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

    // The state a device is in just before the snapshot: root and timestamp trusted.
    let mut before_snapshot = TrustedSet::new(&root, UnixTime(NOW), Limits::default()).unwrap();
    before_snapshot
        .update_timestamp(Input::<NoReader>::Bytes(&timestamp))
        .unwrap();
    // ... and before the bin: snapshot and targets trusted too.
    let mut client = Client::new(&root, UnixTime(NOW), Limits::default()).unwrap();
    client.not_found().unwrap();
    for file in [&timestamp, &snapshot, &targets] {
        client.handle(file).unwrap();
    }
    let before_bin = client.trusted().clone();
    let targets_json: serde_json::Value = serde_json::from_slice(&targets).unwrap();
    let delegations = serde_json::to_vec(&targets_json["signed"]["delegations"]).unwrap();
    let matches = delegations_for_target(&delegations, &path).unwrap();
    let authority = (&matches.keys[..], &matches.roles[0].role);
    assert_eq!(matches.roles[0].name.as_str(), bin_role);

    let mut g = c.benchmark_group("snapshot-16384");
    g.throughput(Throughput::Bytes(snapshot.len() as u64));
    g.sample_size(30);
    g.bench_function("general", |b| {
        b.iter_batched(
            || before_snapshot.clone(),
            |mut set| {
                set.update_snapshot(Input::<NoReader>::Bytes(&snapshot), false)
                    .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("streaming", |b| {
        let mut chunk = [0u8; 1024];
        b.iter_batched(
            || before_snapshot.clone(),
            |mut set| {
                set.update_snapshot(
                    Input::Stream {
                        reader: &snapshot[..],
                        chunk: &mut chunk,
                    },
                    false,
                )
                .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("bin-50");
    g.throughput(Throughput::Bytes(bin.len() as u64));
    g.bench_function("general", |b| {
        b.iter(|| {
            before_bin
                .verify_targets(
                    Input::<NoReader>::Bytes(&bin),
                    &bin_role,
                    authority,
                    Some(&path),
                )
                .unwrap()
        })
    });
    g.bench_function("streaming", |b| {
        let mut chunk = [0u8; 1024];
        b.iter(|| {
            let input = Input::Stream {
                reader: &bin[..],
                chunk: &mut chunk,
            };
            before_bin
                .verify_targets(input, &bin_role, authority, Some(&path))
                .unwrap()
        })
    });
    // The floor under any verifier: the bin's one ed25519 signature checked over its canonical
    // bytes, prepared in advance (no parsing, no canonicalisation, no other check).
    let doc: serde_json::Value = serde_json::from_slice(&bin).unwrap();
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

criterion_group!(benches, bench);
criterion_main!(benches);
