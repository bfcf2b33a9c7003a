//! PostgreSQL, for several service processes on one state. Publication is serialised by a
//! session advisory lock on a connection of its own: it dies with its connection, so a process
//! killed while publishing never blocks the others. Commits are durable (`synchronous_commit`),
//! except claims and artifact changes, which a crash makes the next publisher redo anyway.

use super::{
    now, Backend, Change, Deleted, Listed, Listing, PublicationLock, RoleState, Task, TaskState,
};
use crate::error::{Error, Result};
use postgres::{Client, NoTls};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// Migrations, applied in order on open; `schema_version` counts those applied.
const MIGRATIONS: &[&str] = &["
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE artifacts (path TEXT PRIMARY KEY, bin TEXT NOT NULL, info TEXT NOT NULL, hardware TEXT);
CREATE INDEX artifacts_bin ON artifacts (bin);
CREATE INDEX artifacts_hardware ON artifacts (hardware);
CREATE TABLE roles (name TEXT PRIMARY KEY, version BIGINT NOT NULL, expires BIGINT NOT NULL,
                    length BIGINT NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE tasks (seq BIGSERIAL, id TEXT PRIMARY KEY, action TEXT NOT NULL, payload TEXT NOT NULL,
                    state TEXT NOT NULL, result TEXT, updated BIGINT NOT NULL);
CREATE INDEX tasks_state ON tasks (state);
CREATE TABLE generation (id INT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO generation VALUES (1, 0);
", "
-- The listing (GET /api/v1/artifacts): newest first, each filter's index read in seq order,
-- a path found by any substring.
ALTER TABLE artifacts ADD COLUMN seq BIGSERIAL;
CREATE INDEX artifacts_seq ON artifacts (seq);
CREATE INDEX artifacts_hardware_seq ON artifacts (hardware, seq);
CREATE INDEX artifacts_channel_seq ON artifacts (((info::jsonb) -> 'custom' ->> 'channel'), seq);
CREATE INDEX artifacts_version_seq ON artifacts (((info::jsonb) -> 'custom' ->> 'version'), seq);
CREATE INDEX artifacts_hardware_channel_seq ON artifacts (hardware, ((info::jsonb) -> 'custom' ->> 'channel'), seq);
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX artifacts_path_trigrams ON artifacts USING gin (path gin_trgm_ops);
", "
-- The operator view's recent tasks.
CREATE INDEX tasks_updated ON tasks (updated);
"];

/// Records a new task (`PENDING`).
const INSERT_TASK: &str =
    "INSERT INTO tasks (id, action, payload, state, updated) VALUES ($1, $2, $3, 'PENDING', $4)";

/// Advisory lock keys (one namespace per database): migrations, publication.
const MIGRATION_LOCK: i64 = 0x6f74_7566_0001;
const PUBLICATION_LOCK: i64 = 0x6f74_7566_0002;

/// Connections for state operations: requests (a task's state, polled by every client) go on
/// while a publication holds another.
const POOL: usize = 4;

/// The state database on a PostgreSQL server.
pub(super) struct Postgres {
    /// State operations, each on the first free connection.
    pool: Vec<Mutex<Option<Client>>>,
    /// Where the next operation waits when every connection is busy.
    next: std::sync::atomic::AtomicUsize,
    /// Holds the publication lock; never waited on by anything else.
    lock: Mutex<Option<Client>>,
    /// To connect again for the lock, should its connection be lost.
    url: String,
}

fn connect(url: &str) -> Result<Client> {
    crate::blocking::sync(|| Client::connect(url, NoTls)).map_err(|e| {
        Error::State(format!(
            "state {}: {e}",
            url.split('?').next().unwrap_or(url)
        ))
    })
}

impl Postgres {
    /// Connects to `url` and applies the migrations this database lacks.
    pub(super) fn open(url: &str) -> Result<Self> {
        let (mut conn, lock) = (connect(url)?, connect(url)?);
        crate::blocking::sync(|| -> Result<(), postgres::Error> {
            let mut tx = conn.transaction()?;
            // Processes starting together: one migrates, the others wait and find it done.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)")?;
            let applied: i64 = tx
                .query_one("SELECT count(*) FROM schema_version", &[])?
                .get(0);
            for (i, m) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
                tx.batch_execute(m)?;
                tx.execute("INSERT INTO schema_version VALUES ($1)", &[&(i as i32 + 1)])?;
            }
            tx.commit()
        })?;
        let mut pool = vec![Mutex::new(Some(conn))];
        for _ in 1..POOL {
            pool.push(Mutex::new(Some(connect(url)?)));
        }
        Ok(Self {
            pool,
            next: std::sync::atomic::AtomicUsize::new(0),
            lock: Mutex::new(Some(lock)),
            url: url.to_string(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>) -> Result<T> {
        self.with_conn(|c| Ok(f(c)?))
    }

    fn with_conn<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        crate::blocking::sync(|| {
            let mut guard = match self.pool.iter().find_map(|m| m.try_lock().ok()) {
                Some(free) => free,
                None => {
                    let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.pool[i % POOL]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                }
            };
            // A connection the server closed (a restart, a failover) is opened again.
            if guard.as_ref().is_none_or(Client::is_closed) {
                *guard = Some(connect(&self.url)?);
            }
            let conn = guard
                .as_mut()
                .ok_or_else(|| Error::State("database closed".into()))?;
            f(conn)
        })
    }

    /// `f` in a transaction whose commit is not waited on (`synchronous_commit = off`): for
    /// what a crash may lose because it is redone from durable tasks.
    fn relaxed<T>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute("SET LOCAL synchronous_commit = off")?;
            let r = f(&mut tx)?;
            tx.commit()?;
            Ok(r)
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Each client owns a runtime, which must not be dropped on a runtime's worker.
        let clients: Vec<Option<Client>> = self
            .pool
            .iter()
            .chain([&self.lock])
            .map(|m| {
                m.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
            })
            .collect();
        crate::blocking::sync(move || drop(clients));
    }
}

fn hardware(info: &Value) -> Option<&str> {
    info["custom"]["hardware"].as_str()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn write_settings(
    tx: &mut postgres::Transaction<'_>,
    settings: &[(&str, Option<&str>)],
) -> Result<(), postgres::Error> {
    for (key, value) in settings {
        match value {
            Some(v) => tx.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[key, v],
            )?,
            None => tx.execute("DELETE FROM settings WHERE key = $1", &[key])?,
        };
    }
    tx.execute("UPDATE generation SET value = value + 1 WHERE id = 1", &[])?;
    Ok(())
}

/// The publication lock: released on drop (or with the connection, if the process dies).
struct Held<'a>(MutexGuard<'a, Option<Client>>);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let unlocked = crate::blocking::sync(|| {
                c.execute("SELECT pg_advisory_unlock($1)", &[&PUBLICATION_LOCK])
            });
            if let Err(e) = unlocked {
                // The lock stays with the connection: close it, and the server releases it.
                tracing::error!("releasing the publication lock: {e}");
                *self.0 = None;
            }
        }
    }
}

impl Backend for Postgres {
    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.set_settings(&[(key, Some(value))])
    }

    fn claim_setting(&self, key: &str, value: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&key, &value],
            )
            .map(|n| n == 1)
        })
    }

    fn insert_tasks(&self, tasks: &[(String, String, Value)]) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let q = tx.prepare(INSERT_TASK)?;
            for (id, action, payload) in tasks {
                tx.execute(&q, &[id, action, &payload.to_string(), &now()])?;
            }
            tx.commit()
        })
    }

    fn task(&self, id: &str) -> Result<Option<(String, Option<Value>)>> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT state, result FROM tasks WHERE id = $1", &[&id])?
                    .map(|r| {
                        let result: Option<String> = r.get(1);
                        (r.get(0), result.map(|s| parse(&s)))
                    }),
            )
        })
    }

    fn recent_tasks(&self, limit: u32) -> Result<Vec<TaskState>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT id, action, state, result, updated FROM tasks ORDER BY updated DESC, seq DESC LIMIT $1",
                &[&i64::from(limit)],
            )?
            .iter()
            .map(|r| TaskState {
                id: r.get(0),
                action: r.get(1),
                state: r.get(2),
                result: r.get::<_, Option<String>>(3).map(|s| parse(&s)),
                updated: r.get(4),
            })
            .collect())
        })
    }

    fn claim_tasks(&self) -> Result<Vec<Task>> {
        self.relaxed(|tx| {
            let rows = tx.query(
                "SELECT id, action, payload FROM tasks WHERE state IN ('PENDING', 'RUNNING') ORDER BY seq",
                &[],
            )?;
            tx.execute(
                "UPDATE tasks SET state = 'RUNNING', updated = $1 WHERE state = 'PENDING'",
                &[&now()],
            )?;
            Ok(rows
                .iter()
                .map(|r| Task {
                    id: r.get(0),
                    action: r.get(1),
                    payload: parse(r.get(2)),
                })
                .collect())
        })
    }

    fn finish_tasks(&self, outcomes: &[(&str, &str, &Value)]) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let q =
                tx.prepare("UPDATE tasks SET state = $2, result = $3, updated = $4 WHERE id = $1")?;
            for (id, state, result) in outcomes {
                tx.execute(&q, &[id, state, &result.to_string(), &now()])?;
            }
            tx.commit()
        })
    }

    fn apply(&self, changes: &[&Change]) -> Result<Vec<Option<Deleted>>> {
        self.relaxed(|tx| {
            let upsert = tx.prepare(
                "INSERT INTO artifacts (path, bin, info, hardware) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (path) DO UPDATE SET bin = EXCLUDED.bin, info = EXCLUDED.info, hardware = EXCLUDED.hardware, seq = DEFAULT",
            )?;
            let delete =
                tx.prepare("DELETE FROM artifacts WHERE path = $1 RETURNING bin, hardware")?;
            let mut out = Vec::with_capacity(changes.len());
            for change in changes {
                match change {
                    Change::Upsert(rows) => {
                        for (path, bin, info) in rows {
                            tx.execute(&upsert, &[path, bin, &info.to_string(), &hardware(info)])?;
                        }
                        out.push(None);
                    }
                    Change::Delete(paths) => {
                        let mut d = Deleted::default();
                        for p in paths {
                            match tx.query_opt(&delete, &[p])? {
                                Some(r) => {
                                    d.removed.push(p.clone());
                                    d.roles.push(r.get(0));
                                    d.hardware.extend(r.get::<_, Option<String>>(1));
                                }
                                None => d.missing.push(p.clone()),
                            }
                        }
                        out.push(Some(d));
                    }
                }
            }
            Ok(out)
        })
    }

    fn import(&self, rows: &[(String, String, Value)], task: (&str, &str, &Value)) -> Result<()> {
        use std::io::Write;
        self.with_conn(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute(
                "CREATE TEMPORARY TABLE import (path TEXT, bin TEXT, info TEXT, hardware TEXT) ON COMMIT DROP",
            )?;
            // COPY's text format: tab-separated, `\N` for NULL, backslashes doubled (paths
            // have no control characters: the API refuses them).
            let field = |s: &str| s.replace('\\', "\\\\");
            let mut data = Vec::with_capacity(rows.len() * 200);
            for (path, bin, info) in rows {
                let hw = hardware(info).map_or("\\N".into(), field);
                let line = [field(path), field(bin), field(&info.to_string()), hw].join("\t");
                data.extend_from_slice(line.as_bytes());
                data.push(b'\n');
            }
            let mut copy = tx.copy_in("COPY import FROM STDIN")?;
            copy.write_all(&data).map_err(Error::io("COPY import"))?;
            copy.finish()?;
            tx.execute(
                "INSERT INTO artifacts (path, bin, info, hardware) SELECT path, bin, info, hardware FROM import
                 ON CONFLICT (path) DO UPDATE SET bin = EXCLUDED.bin, info = EXCLUDED.info, hardware = EXCLUDED.hardware, seq = DEFAULT",
                &[],
            )?;
            let (id, action, payload) = task;
            tx.execute(
                INSERT_TASK,
                &[&id, &action, &payload.to_string(), &now()],
            )?;
            Ok(tx.commit()?)
        })
    }

    fn artifact_roles(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT path, bin FROM artifacts ORDER BY path COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    fn move_artifacts(&self, moves: &[(String, String)]) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let q = tx.prepare("UPDATE artifacts SET bin = $2 WHERE path = $1")?;
            for (path, role) in moves {
                tx.execute(&q, &[path, role])?;
            }
            tx.commit()
        })
    }

    fn artifacts_in_roles(
        &self,
        roles: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<(String, Value)>>> {
        let names: Vec<&String> = roles.iter().collect();
        self.with(|c| {
            let mut out: BTreeMap<String, Vec<(String, Value)>> =
                roles.iter().map(|r| (r.clone(), Vec::new())).collect();
            // One query for every role (byte order, as SQLite and canonical JSON sort).
            for r in c.query(
                "SELECT bin, path, info FROM artifacts WHERE bin = ANY($1) ORDER BY path COLLATE \"C\"",
                &[&names],
            )? {
                if let Some(list) = out.get_mut(r.get::<_, &str>(0)) {
                    list.push((r.get(1), parse(r.get(2))));
                }
            }
            Ok(out)
        })
    }

    fn artifacts_at(&self, paths: &BTreeSet<String>) -> Result<Vec<(String, Value)>> {
        let paths: Vec<&String> = paths.iter().collect();
        self.with(|c| {
            Ok(c.query(
                "SELECT path, info FROM artifacts WHERE path = ANY($1) ORDER BY path COLLATE \"C\"",
                &[&paths],
            )?
            .iter()
            .map(|r| (r.get(0), parse(r.get(1))))
            .collect())
        })
    }

    fn artifacts_for_hardware(&self, hardware: &str) -> Result<Vec<(String, Value)>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT path, info FROM artifacts WHERE hardware = $1 ORDER BY path COLLATE \"C\"",
                &[&hardware],
            )?
            .iter()
            .map(|r| (r.get(0), parse(r.get(1))))
            .collect())
        })
    }

    fn list_artifacts(&self, listing: &Listing) -> Result<Vec<Listed>> {
        // LIKE's own characters in the term stand for themselves.
        let pattern = listing.path.as_deref().filter(|t| !t.is_empty()).map(|t| {
            let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        let before = listing.before.unwrap_or(i64::MAX);
        let limit = i64::from(listing.limit);
        // Only the conditions given, so that the planner can read a filter's index in order.
        let mut sql = String::from(
            "SELECT seq, path, info FROM artifacts WHERE seq < $1 AND path NOT LIKE 'otuf-index/%'",
        );
        let mut args: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&before, &limit];
        let conditions = [
            ("path LIKE", &pattern),
            ("hardware =", &listing.hardware),
            ("((info::jsonb) -> 'custom' ->> 'channel') =", &listing.channel),
            ("((info::jsonb) -> 'custom' ->> 'version') =", &listing.version),
        ];
        for (condition, value) in conditions {
            if let Some(v) = value {
                args.push(v);
                sql.push_str(&format!(" AND {condition} ${}", args.len()));
            }
        }
        sql.push_str(" ORDER BY seq DESC LIMIT $2");
        self.with(|c| {
            Ok(c.query(&sql, &args)?
            .iter()
            .map(|r| Listed {
                position: r.get(0),
                path: r.get(1),
                info: parse(r.get(2)),
            })
            .collect())
        })
    }

    fn roles(&self) -> Result<Vec<(String, RoleState)>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT name, version, expires, length, sha256 FROM roles ORDER BY name COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    RoleState {
                        version: r.get::<_, i64>(1) as u64,
                        expires: r.get(2),
                        length: r.get::<_, i64>(3) as u64,
                        sha256: r.get(4),
                    },
                )
            })
            .collect())
        })
    }

    fn commit(
        &self,
        roles: &[(String, RoleState)],
        settings: &[(&str, Option<&str>)],
    ) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let q = tx.prepare(
                "INSERT INTO roles (name, version, expires, length, sha256) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, expires = EXCLUDED.expires,
                 length = EXCLUDED.length, sha256 = EXCLUDED.sha256",
            )?;
            for (name, s) in roles {
                tx.execute(
                    &q,
                    &[name, &(s.version as i64), &s.expires, &(s.length as i64), &s.sha256],
                )?;
            }
            write_settings(&mut tx, settings)?;
            tx.commit()
        })
    }

    fn set_settings(&self, settings: &[(&str, Option<&str>)]) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            write_settings(&mut tx, settings)?;
            tx.commit()
        })
    }

    fn settings(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT key, value FROM settings ORDER BY key COLLATE \"C\"",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    fn queued_tasks(&self) -> Result<u64> {
        self.with(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM tasks WHERE state IN ('PENDING', 'RUNNING')",
                    &[],
                )?
                .get(0);
            Ok(n as u64)
        })
    }

    fn forget_tasks(&self, before: i64) -> Result<u64> {
        self.with(|c| {
            c.execute(
                "DELETE FROM tasks WHERE state NOT IN ('PENDING', 'RUNNING') AND updated < $1",
                &[&before],
            )
        })
    }

    fn lock_publication(&self) -> Result<Box<dyn PublicationLock + '_>> {
        crate::blocking::sync(|| {
            let mut guard = self
                .lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if guard.as_ref().is_none_or(Client::is_closed) {
                *guard = Some(connect(&self.url)?);
            }
            let conn = guard
                .as_mut()
                .ok_or_else(|| Error::State("publication lock: no connection".into()))?;
            conn.execute("SELECT pg_advisory_lock($1)", &[&PUBLICATION_LOCK])?;
            Ok(Box::new(Held(guard)) as Box<dyn PublicationLock + '_>)
        })
    }

    fn generation(&self) -> Result<i64> {
        self.with(|c| {
            Ok(
                c.query_one("SELECT value FROM generation WHERE id = 1", &[])?
                    .get(0),
            )
        })
    }

    fn is_shared(&self) -> bool {
        true
    }
}
