//! Streaming mode verifies a snapshot listing 16,384 hash bins (tests/fixtures/bench, made by
//! generate_bench.py) in one pass through a small chunk buffer, with a state whose size is fixed
//! at compile time: it does not depend on the document (printed here), and without `alloc` only
//! the roles the device declared are retained.

use otuf_core::client::{Client, Next, Role};
use otuf_core::footprint;
use otuf_core::limits::Limits;
use otuf_core::search::{Search, SearchStep};
use otuf_core::time::UnixTime;
use std::path::PathBuf;

fn bench(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bench");
    std::fs::read(dir.join(name)).unwrap()
}

#[test]
fn streams_a_16384_bin_snapshot_in_fixed_state() {
    let info: String = String::from_utf8(bench("info.json")).unwrap();
    let bin_role = info
        .split("\"bin_role\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let target = info
        .split("\"bin_targets\": [")
        .nth(1)
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string();
    let snapshot = bench("snapshot.json");
    let mut chunk = [0u8; 256];

    let mut client = Client::new(
        &bench("root.json"),
        UnixTime(1_767_225_600),
        Limits::default(),
    )
    .unwrap();
    client.trusted_mut().retain(&bin_role).unwrap();
    client.not_found().unwrap(); // no 2.root.json
    assert!(matches!(
        client.next().unwrap(),
        Next::Fetch {
            role: Role::Timestamp,
            ..
        }
    ));
    client
        .handle_stream(&bench("timestamp.json")[..], &mut chunk)
        .unwrap();
    client.handle_stream(&snapshot[..], &mut chunk).unwrap();
    client
        .handle_stream(&bench("targets.json")[..], &mut chunk)
        .unwrap();
    assert_eq!(client.next().unwrap(), Next::Ready);

    let sn = client.trusted().snapshot().unwrap();
    assert!(
        sn.meta.get(&bin_role).is_some(),
        "the device's bin is retained"
    );
    if !cfg!(feature = "alloc") {
        assert_eq!(
            sn.meta.len(),
            1,
            "without a heap only the declared bin is kept"
        );
    }

    let mut search = Search::new(client.trusted(), &target).unwrap();
    loop {
        match search.next().unwrap() {
            SearchStep::Fetch { role, .. } => {
                let file = if role == "targets" {
                    bench("targets.json")
                } else {
                    bench("bin.json")
                };
                search.handle_stream(&file[..], &mut chunk).unwrap();
            }
            SearchStep::Found(t) => {
                assert!(t.length > 0);
                break;
            }
            SearchStep::NotFound => panic!("{target} not found"),
        }
    }

    println!(
        "snapshot: {} bytes, 16384 bins; streaming state: {} B verifier + {} B chunk; trusted set {} B; client {} B; search {} B (alloc: {})",
        snapshot.len(),
        footprint::STREAM_SNAPSHOT,
        chunk.len(),
        footprint::TRUSTED_SET,
        footprint::CLIENT,
        footprint::SEARCH,
        cfg!(feature = "alloc"),
    );
}

/// A fault half a megabyte into a streamed snapshot is reported at its byte, whatever the
/// chunk size: the offset is the tokenizer's, carried out through the client.
#[test]
fn a_fault_deep_in_a_streamed_snapshot_names_its_byte() {
    use otuf_core::{ErrorKind, RoleKind};
    let good = bench("snapshot.json");
    let find = |needle: &[u8]| {
        good.windows(needle.len())
            .rposition(|w| w == needle)
            .unwrap()
    };
    let key = find(b"\"bins-3ffd.json\"");
    let digit = find(b"\"bins-3ffe.json\":{\"version\":1}") + 28;
    assert_eq!(good[digit], b'1');
    let mut cases: Vec<(Vec<u8>, ErrorKind, usize)> = Vec::new();
    let mut put = |at: usize, bytes: &[u8], kind, fault_at| {
        let mut doc = good.clone();
        doc[at..at + bytes.len()].copy_from_slice(bytes);
        cases.push((doc, kind, fault_at));
    };
    put(digit, b"x", ErrorKind::Syntax, digit);
    put(digit, b"-", ErrorKind::Syntax, digit + 1);
    put(key + 9, b"b", ErrorKind::NotCanonical, key); // bins-3ffb after bins-3ffc
    put(key + 9, b"c", ErrorKind::DuplicateKey, key);
    put(key + 1, &[0xff], ErrorKind::Utf8, key + 1);
    cases.push((good[..400_000].to_vec(), ErrorKind::Syntax, 400_000));

    for chunk_len in [7, 256] {
        for (doc, kind, at) in &cases {
            let mut chunk = vec![0u8; chunk_len];
            let mut client = Client::new(
                &bench("root.json"),
                UnixTime(1_767_225_600),
                Limits::default(),
            )
            .unwrap();
            client.not_found().unwrap();
            client
                .handle_stream(&bench("timestamp.json")[..], &mut chunk)
                .unwrap();
            let e = client.handle_stream(&doc[..], &mut chunk).unwrap_err();
            assert_eq!(
                (e.kind(), e.role(), e.offset()),
                (*kind, RoleKind::Snapshot, Some(*at as u32)),
                "{e} ({chunk_len}-byte chunks)"
            );
            assert!(e.to_string().ends_with(&format!(" at byte {at}")), "{e}");
        }
    }
}
