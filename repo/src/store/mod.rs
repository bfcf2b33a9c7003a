//! Repository state, in the database a URL names: one SQLite file (the default, one process)
//! or PostgreSQL (any number of service processes), behind the same [`Backend`] methods, with
//! the same behaviour. Migrations are applied on open.

mod postgres;
mod sqlite;

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A task as stored.
#[derive(Debug, Clone)]
pub struct Task {
    /// 32 lower-case hex digits, as RSTUF's.
    pub id: String,
    /// RSTUF's action name (`add_artifacts`, `remove_artifacts`, `publish_artifacts`).
    pub action: String,
    /// The validated request body.
    pub payload: Value,
}

/// What the repository knows of one role's current file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleState {
    /// Current version.
    pub version: u64,
    /// Expiry (UNIX seconds).
    pub expires: i64,
    /// Length of the current file.
    pub length: u64,
    /// SHA-256 of the current file.
    pub sha256: String,
}

/// A change to the artifact table.
#[derive(Debug, Clone)]
pub enum Change {
    /// Adds or replaces artifacts: `(path, role, info)`.
    Upsert(Vec<(String, String, Value)>),
    /// Removes artifacts by path.
    Delete(Vec<String>),
}

/// What a deletion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Paths removed.
    pub removed: Vec<String>,
    /// Paths that were not there.
    pub missing: Vec<String>,
    /// The roles that listed the removed ones (`""`: none).
    pub roles: Vec<String>,
    /// The `custom.hardware` of the removed ones that had one.
    pub hardware: Vec<String>,
}

/// A task as the operator view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    /// Task id.
    pub id: String,
    /// RSTUF's action name.
    pub action: String,
    /// `PENDING`, `RUNNING`, `SUCCESS`, `FAILURE` or `ERRORED`.
    pub state: String,
    /// The result, once finished.
    pub result: Option<Value>,
    /// Last change (UNIX seconds).
    pub updated: i64,
}

/// What a page of the artifact listing asks for (`GET /api/v1/artifacts`): newest first.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// A substring of the path.
    pub path: Option<String>,
    /// `custom.hardware`, `custom.channel` and `custom.version`, each exactly.
    pub hardware: Option<String>,
    /// See `hardware`.
    pub channel: Option<String>,
    /// See `hardware`.
    pub version: Option<String>,
    /// Only artifacts added before this position (the previous page's `next`).
    pub before: Option<i64>,
    /// Most artifacts on the page.
    pub limit: u32,
}

/// One artifact of the listing: its position (newer is larger), path and stored info.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Position in the listing (newest first).
    pub position: i64,
    /// Target path.
    pub path: String,
    /// `{"length", "hashes", "custom"}` as stored.
    pub info: Value,
}

/// The state operations, one implementation per database.
pub trait Backend: Send + Sync {
    /// A setting.
    fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Sets a setting.
    fn set_setting(&self, key: &str, value: &str) -> Result<()>;
    /// Sets a setting unless it is already set; whether it was set (a lock, e.g. the
    /// bootstrap's pre-lock against two concurrent bootstraps).
    fn claim_setting(&self, key: &str, value: &str) -> Result<bool>;
    /// Records new tasks (state `PENDING`) in one transaction: durable when this returns.
    /// Requests arriving together share one commit (group commit), so durability costs one
    /// fsync per batch, not per request.
    fn insert_tasks(&self, tasks: &[(String, String, Value)]) -> Result<()>;
    /// A task's state and result.
    fn task(&self, id: &str) -> Result<Option<(String, Option<Value>)>>;
    /// The `limit` tasks changed last, newest first.
    fn recent_tasks(&self, limit: u32) -> Result<Vec<TaskState>>;
    /// Claims every pending (or interrupted) task, oldest first. Called under the publication
    /// lock, so a task still `RUNNING` was left so by a publisher that died.
    fn claim_tasks(&self) -> Result<Vec<Task>>;
    /// Records the outcomes of several tasks in one transaction (one fsync for a whole
    /// publication's tasks).
    fn finish_tasks(&self, outcomes: &[(&str, &str, &Value)]) -> Result<()>;
    /// Records a task's outcome.
    fn finish_task(&self, id: &str, state: &str, result: &Value) -> Result<()> {
        self.finish_tasks(&[(id, state, result)])
    }
    /// Applies changes to the artifact table in order, in one transaction. For each deletion:
    /// the paths removed, those not found, and the roles that listed the removed ones. Need
    /// not be durable itself: the publication's commit makes it durable before any metadata
    /// refers to it, and after a crash before that the tasks, durable since their 202, run again.
    fn apply(&self, changes: &[&Change]) -> Result<Vec<Option<Deleted>>>;
    /// A bulk import: upserts `rows` (`(path, role, info)`) and records the task that publishes
    /// them, in one transaction, durable when this returns.
    fn import(&self, rows: &[(String, String, Value)], task: (&str, &str, &Value)) -> Result<()>;
    /// Every artifact's path and role (`""`: no role is trusted for its path now).
    fn artifact_roles(&self) -> Result<Vec<(String, String)>>;
    /// Moves artifacts to other roles: `(path, role)`, in one transaction.
    fn move_artifacts(&self, moves: &[(String, String)]) -> Result<()>;
    /// The artifacts of each of `roles`, sorted by path, in one read.
    fn artifacts_in_roles(
        &self,
        roles: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<(String, Value)>>>;
    /// The artifacts at `paths` (those that exist), sorted by path.
    fn artifacts_at(&self, paths: &BTreeSet<String>) -> Result<Vec<(String, Value)>>;
    /// Every artifact whose `custom.hardware` is `hardware`, sorted by path.
    fn artifacts_for_hardware(&self, hardware: &str) -> Result<Vec<(String, Value)>>;
    /// A page of the listing: the artifacts matching `listing`, newest first.
    fn list_artifacts(&self, listing: &Listing) -> Result<Vec<Listed>>;
    /// The state of every role.
    fn roles(&self) -> Result<Vec<(String, RoleState)>>;
    /// Records new role states and settings together (one transaction): a publication's
    /// versions and, for a root rotation, the new root and online key become current at once.
    /// Bumps the generation of a shared store.
    fn commit(
        &self,
        roles: &[(String, RoleState)],
        settings: &[(&str, Option<&str>)],
    ) -> Result<()>;
    /// Sets (`Some`) or removes (`None`) settings in one transaction. Bumps the generation of
    /// a shared store.
    fn set_settings(&self, settings: &[(&str, Option<&str>)]) -> Result<()>;
    /// Tasks accepted and not finished (`PENDING` or `RUNNING`), by every process.
    fn queued_tasks(&self) -> Result<u64>;
    /// Removes finished tasks last updated before `before` (UNIX seconds); how many.
    fn forget_tasks(&self, before: i64) -> Result<u64>;
    /// Every setting.
    fn settings(&self) -> Result<Vec<(String, String)>>;
    /// Waits for the publication lock, which serialises every new version across processes;
    /// it is released when the guard drops, or with its connection when the process dies.
    fn lock_publication(&self) -> Result<Box<dyn PublicationLock + '_>>;
    /// On a shared store, a number every [`commit`](Self::commit) and
    /// [`set_settings`](Self::set_settings) changes: what a process caches from the state is
    /// current while it stays the same (a constant where one process owns the store).
    fn generation(&self) -> Result<i64>;
    /// Whether several processes may share this database.
    fn is_shared(&self) -> bool;
}

/// The state database.
pub struct Store(Box<dyn Backend>);

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl Store {
    /// Opens (creating and migrating) the database `url` names: `postgres://...` (or
    /// `postgresql://`), `sqlite://<file>`, or by default `otuf.sqlite3` in `data_dir`.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Self> {
        match url {
            None => Ok(Self(Box::new(sqlite::Sqlite::open(
                &data_dir.join("otuf.sqlite3"),
            )?))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Self(Box::new(postgres::Postgres::open(u)?)))
            }
            Some(u) => match u.strip_prefix("sqlite://") {
                Some(path) => Ok(Self(Box::new(sqlite::Sqlite::open(Path::new(path))?))),
                None => Err(Error::State(format!(
                    "state {u}: a state URL is sqlite://<file> or postgres://user@host/database"
                ))),
            },
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The publication lock while it is held (see [`Backend::lock_publication`]).
pub trait PublicationLock {}
impl<T> PublicationLock for T {}
