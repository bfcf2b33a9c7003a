//! Target -> bin mapping equals python-tuf's `SuccinctRoles.get_role_for_target` and classic
//! `path_hash_prefixes` bins (`DelegatedRole.is_delegated_path`) for 10,000 generated paths
//! (tests/fixtures/bins/mapping.json, made by generate_bins.py).

use otuf_core::metadata::{bin_name, delegations_for_target, path_hash_matches};
use serde_json::{json, Value};

fn mapping() -> Value {
    let path = otuf_tests::fixtures().join("bins/mapping.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn paths(m: &Value) -> Vec<&str> {
    m["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

#[test]
fn succinct_bins_match_python_tuf() {
    let m = mapping();
    let paths = paths(&m);
    assert_eq!(paths.len(), 10_000);
    for cfg in m["succinct"].as_array().unwrap() {
        let bits = cfg["bit_length"].as_u64().unwrap() as u32;
        let prefix = cfg["name_prefix"].as_str().unwrap();
        for (path, want) in paths.iter().zip(cfg["roles"].as_array().unwrap()) {
            assert_eq!(
                bin_name(prefix, bits, path).unwrap().as_str(),
                want.as_str().unwrap(),
                "{path:?} bit_length {bits}"
            );
        }
    }
}

#[test]
fn classic_bins_match_python_tuf() {
    let m = mapping();
    let paths = paths(&m);
    for cfg in m["classic"].as_array().unwrap() {
        let bins = cfg["delegations"].as_array().unwrap();
        let want = cfg["roles"].as_array().unwrap();
        for (path, want) in paths.iter().zip(want) {
            let got = bins.iter().find(|b| {
                b["path_hash_prefixes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| path_hash_matches(p.as_str().unwrap(), path))
            });
            assert_eq!(
                got.map(|b| &b["name"]),
                want.as_str().map(|_| want),
                "{path:?} in {}",
                cfg["name"]
            );
        }
        // The same through the delegations parser, as a targets role carries them.
        let roles: Vec<Value> = bins
            .iter()
            .map(|b| json!({"name": b["name"], "keyids": [], "threshold": 1, "terminating": false, "path_hash_prefixes": b["path_hash_prefixes"]}))
            .collect();
        let doc = serde_json::to_vec(&json!({"keys": {}, "roles": roles})).unwrap();
        for (path, want) in paths
            .iter()
            .zip(cfg["roles"].as_array().unwrap())
            .step_by(50)
        {
            let got = delegations_for_target(&doc, path).unwrap();
            assert_eq!(
                got.roles.first().map(|r| r.name.as_str()),
                want.as_str(),
                "{path:?}"
            );
        }
    }
}
