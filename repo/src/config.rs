//! `otuf-repo serve`'s settings: command-line flags, environment variables (`OTUF_*`) and a
//! TOML file (`--config`, `OTUF_CONFIG`), in that order of precedence, then the built-in
//! defaults. Every flag has a file key of the same name (`data_dir`, `listen`, ...); an unknown
//! key or a value of the wrong type is refused with the file, the line and the key.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The settings one source gives (each may leave any of them out).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Database, keys, metadata and artifacts live here [default: ./otuf-data].
    #[arg(long, env = "OTUF_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "OTUF_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// With no repository yet, create a development one (generated root key, threshold 1).
    #[arg(long, env = "OTUF_DEV", num_args = 0..=1, default_missing_value = "true")]
    pub dev: Option<bool>,
    /// Hash bins of a development repository: a power of two, 2 to 16384 [default: 256].
    #[arg(long, env = "OTUF_BINS")]
    pub bins: Option<u32>,
    /// Classic `path_hash_prefixes` bins for a development repository (for clients without
    /// TAP 15, such as tough), instead of succinct hash bins.
    #[arg(long, env = "OTUF_PATH_HASH_PREFIXES", num_args = 0..=1, default_missing_value = "true")]
    pub path_hash_prefixes: Option<bool>,
    /// Directory of online key files, which root names by `x-rstuf-online-key-uri: fn:<file>`
    /// [default: <data dir>/keys].
    #[arg(long, env = "OTUF_ONLINE_KEY_DIR")]
    pub online_key_dir: Option<PathBuf>,
    /// File of `scope token` lines (scope `publish` or `admin`): every write then needs
    /// `Authorization: Bearer <token>` of the right scope. Off by default, as in RSTUF.
    #[arg(long, env = "OTUF_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
    /// The state database: `sqlite://<file>` or `postgres://user@host/database` (several
    /// processes may share a PostgreSQL one) [default: SQLite in the data folder].
    #[arg(long, env = "OTUF_STATE")]
    pub state: Option<String>,
    /// Where metadata and artifacts are kept: `s3://bucket/prefix?endpoint=...&region=...`
    /// (credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`) or `file:///folder`
    /// [default: the data folder].
    #[arg(long, env = "OTUF_STORAGE")]
    pub storage: Option<String>,
    /// Metadata versions of each role kept whatever their age [default: 10].
    #[arg(long, env = "OTUF_KEEP_VERSIONS")]
    pub keep_versions: Option<u64>,
    /// Hours an older version stays after its successor was published [default: 24].
    #[arg(long, env = "OTUF_KEEP_VERSIONS_HOURS")]
    pub keep_versions_hours: Option<u64>,
    /// Days a finished task's result can be read [default: 30].
    #[arg(long, env = "OTUF_TASK_RETENTION_DAYS")]
    pub task_retention_days: Option<u64>,
    /// Seconds between housekeeping runs (one process at a time) [default: 3600].
    #[arg(long, env = "OTUF_HOUSEKEEPING_EVERY_SECS")]
    pub housekeeping_every_secs: Option<u64>,
}

/// The settings in force, every one decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serve {
    /// Data folder.
    pub data_dir: PathBuf,
    /// Listening address.
    pub listen: SocketAddr,
    /// Development bootstrap when there is no repository.
    pub dev: bool,
    /// Bins of a development repository.
    pub bins: u32,
    /// Classic bins for a development repository.
    pub path_hash_prefixes: bool,
    /// Online key directory.
    pub online_key_dir: Option<PathBuf>,
    /// Token file.
    pub tokens_file: Option<PathBuf>,
    /// State database URL.
    pub state: Option<String>,
    /// Storage URL.
    pub storage: Option<String>,
    /// What housekeeping keeps.
    pub housekeeping: crate::housekeeping::Policy,
}

impl ServeSettings {
    /// Reads a TOML settings file. Relative paths in it are taken from the file's folder, so
    /// the file means the same whatever directory the service starts in.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path.display()))?;
        let mut s: Self = toml::from_str(&text)
            .map_err(|e| Error::State(format!("{}: {}", path.display(), e.to_string().trim())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut s.data_dir, &mut s.online_key_dir, &mut s.tokens_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(s)
    }

    /// These settings, with `lower`'s where these leave one out.
    pub fn or(self, lower: Self) -> Self {
        Self {
            data_dir: self.data_dir.or(lower.data_dir),
            listen: self.listen.or(lower.listen),
            dev: self.dev.or(lower.dev),
            bins: self.bins.or(lower.bins),
            path_hash_prefixes: self.path_hash_prefixes.or(lower.path_hash_prefixes),
            online_key_dir: self.online_key_dir.or(lower.online_key_dir),
            tokens_file: self.tokens_file.or(lower.tokens_file),
            state: self.state.or(lower.state),
            storage: self.storage.or(lower.storage),
            keep_versions: self.keep_versions.or(lower.keep_versions),
            keep_versions_hours: self.keep_versions_hours.or(lower.keep_versions_hours),
            task_retention_days: self.task_retention_days.or(lower.task_retention_days),
            housekeeping_every_secs: self
                .housekeeping_every_secs
                .or(lower.housekeeping_every_secs),
        }
    }

    /// The settings in force: these, then the built-in defaults; the bin count checked.
    pub fn resolve(self) -> Result<Serve> {
        let bins = self.bins.unwrap_or(256);
        crate::publish::Layout::new(u64::from(bins), false)
            .map_err(|e| Error::State(format!("bins: {e}")))?;
        Ok(Serve {
            data_dir: self.data_dir.unwrap_or_else(|| "./otuf-data".into()),
            listen: self
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            dev: self.dev.unwrap_or(false),
            bins,
            path_hash_prefixes: self.path_hash_prefixes.unwrap_or(false),
            online_key_dir: self.online_key_dir,
            tokens_file: self.tokens_file,
            state: self.state,
            storage: self.storage,
            housekeeping: {
                let d = crate::housekeeping::Policy::default();
                crate::housekeeping::Policy {
                    keep_versions: self.keep_versions.unwrap_or(d.keep_versions).max(1),
                    keep_for: self
                        .keep_versions_hours
                        .map_or(d.keep_for, |h| std::time::Duration::from_secs(h * 3600)),
                    task_retention: self.task_retention_days.map_or(d.task_retention, |n| {
                        std::time::Duration::from_secs(n * 86_400)
                    }),
                    every: self
                        .housekeeping_every_secs
                        .map_or(d.every, |s| std::time::Duration::from_secs(s.max(1))),
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("repo.toml");
        std::fs::write(
            &file,
            "data_dir = \"state\"\nlisten = \"0.0.0.0:9000\"\nbins = 1024\ndev = true\n",
        )
        .unwrap();
        let from_file = ServeSettings::from_file(&file).unwrap();
        assert_eq!(from_file.data_dir, Some(dir.path().join("state")));
        let flags = ServeSettings {
            bins: Some(16),
            ..Default::default()
        };
        let s = flags.or(from_file).resolve().unwrap();
        assert_eq!(s.bins, 16);
        assert_eq!(s.listen, "0.0.0.0:9000".parse().unwrap());
        assert!(s.dev && !s.path_hash_prefixes);
        assert_eq!(s.data_dir, dir.path().join("state"));
        let defaults = ServeSettings::default().resolve().unwrap();
        assert_eq!(defaults.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(defaults.data_dir, PathBuf::from("./otuf-data"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_file_the_line_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("repo.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\ndata-dir = \"x\"\n").unwrap();
        let e = ServeSettings::from_file(&file).unwrap_err().to_string();
        assert!(
            e.contains("repo.toml") && e.contains("line 2") && e.contains("data-dir"),
            "{e}"
        );
        std::fs::write(&file, "bins = \"many\"\n").unwrap();
        let e = ServeSettings::from_file(&file).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("bins"), "{e}");
        let bad = ServeSettings {
            bins: Some(300),
            ..Default::default()
        };
        assert!(bad
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("power of two"));
    }
}
