//! tough (awslabs' Rust TUF client, without TAP 15) loads an otuf-repo that uses classic
//! `path_hash_prefixes` bins over HTTP and reads its artifacts: an independent client beside
//! python-tuf. Names stay where tough and the specification agree: ASCII (tough orders
//! canonical keys differently for some non-ASCII names) and without folders (tough puts the
//! consistent-snapshot hash before the whole path, `<hash>.dir/name`, where the specification
//! and python-tuf use `dir/<hash>.name`).

use otuf_tests::repo_service::Service;
use serde_json::Value;
use tough::{HttpTransport, IntoVec, RepositoryLoader, TargetName};

#[tokio::test(flavor = "current_thread")]
async fn tough_reads_artifacts_from_a_classic_bins_repository() {
    let svc = Service::start(&["--dev", "--bins", "32", "--path-hash-prefixes"]);
    let artifacts: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            let path = format!("gateway-{i}-image.bin");
            let data = format!("gateway {i} image")
                .repeat(50 * (i + 1))
                .into_bytes();
            (path, data)
        })
        .collect();
    for (path, data) in &artifacts {
        assert_eq!(svc.add(path, data, Value::Null)["state"], "SUCCESS");
    }
    let root = std::fs::read(svc.root()).unwrap();
    let url = |p: &str| url::Url::parse(&format!("{}/{p}/", svc.base)).unwrap();
    let repo = RepositoryLoader::new(&root, url("metadata"), url("targets"))
        .transport(HttpTransport::default())
        .load()
        .await
        .expect("tough loads the repository");
    for (path, data) in &artifacts {
        let name = TargetName::new(path).unwrap();
        let stream = repo
            .read_target(&name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("tough does not find {path}"));
        assert_eq!(&stream.into_vec().await.unwrap(), data, "{path}");
    }
    let missing = TargetName::new("not-published.bin").unwrap();
    assert!(repo.read_target(&missing).await.unwrap().is_none());
}
