//! Property tests: the tokenizer, every metadata parser and the state machine, on random bytes
//! and on mutated real files, never panic, and whatever streaming mode accepts general mode
//! accepts identically. The same entry points are the cargo-fuzz targets
//! (no_std-core/fuzz/fuzz_targets), which explore far longer.

use otuf_core::fuzzing::{self, Repo};
use proptest::prelude::*;
use std::fs;

fn good_repo() -> [Vec<u8>; 4] {
    let dir = otuf_tests::fixtures().join("repos/keys-ed25519");
    let m = |f: &str| fs::read(dir.join("metadata").join(f)).unwrap();
    [
        fs::read(dir.join("trusted_root.json")).unwrap(),
        m("timestamp.json"),
        m("2.snapshot.json"),
        m("1.targets.json"),
    ]
}

const NOW: i64 = 1_767_225_600;

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]\":,0123456789-.eE\\u \"abc\xc3\xa9\xff".to_vec())
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut data: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = data.len().max(1);
        match *m {
            Mutation::Flip(i, b) if !data.is_empty() => data[i % n] ^= b | 1,
            Mutation::Insert(i, b) => data.insert(i % (data.len() + 1), b),
            Mutation::Delete(i) if !data.is_empty() => {
                data.remove(i % n);
            }
            Mutation::Truncate(i) => data.truncate(i % n),
            _ => {}
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn tokenizer_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::tokenizer(&data);
        fuzzing::metadata(&data);
    }

    #[test]
    fn parsers_on_mutated_metadata(which in 0usize..4, muts in prop::collection::vec(mutation(), 1..6)) {
        let files = good_repo();
        let data = mutate(files[which].clone(), &muts);
        fuzzing::tokenizer(&data);
        fuzzing::metadata(&data);
    }

    #[test]
    fn state_machine_on_mutated_repository(which in 0u8..4, muts in prop::collection::vec(mutation(), 1..4)) {
        let files = good_repo();
        let good = Repo { root: &files[0], timestamp: &files[1], snapshot: &files[2], targets: &files[3] };
        let data = mutate(files[which as usize].clone(), &muts);
        fuzzing::client(&good, NOW, which, &data);
    }
}

#[test]
fn the_unmutated_repository_refreshes_in_both_modes() {
    let files = good_repo();
    let good = Repo {
        root: &files[0],
        timestamp: &files[1],
        snapshot: &files[2],
        targets: &files[3],
    };
    let general = fuzzing::refresh(&good, NOW, false).unwrap();
    assert_eq!(fuzzing::refresh(&good, NOW, true).unwrap(), general);
}
