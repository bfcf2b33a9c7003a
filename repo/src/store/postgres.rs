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

/// How many of the newest artifacts a path search reads in order before it asks the trigram
/// index (`list_artifacts`).
const SEARCH_WINDOW: i64 = 20_000;

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
    /// The newest artifacts a path search reads in order ([`SEARCH_WINDOW`]; smaller in tests).
    search_window: i64,
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
            search_window: SEARCH_WINDOW,
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
            let escaped = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let limit = i64::from(listing.limit);
        // Only the conditions given, so that the planner can read a filter's index in order.
        let mut conditions = String::from("path NOT LIKE 'otuf-index/%'");
        let mut args: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
        for (condition, value) in [
            ("path LIKE", &pattern),
            ("hardware =", &listing.hardware),
            (
                "((info::jsonb) -> 'custom' ->> 'channel') =",
                &listing.channel,
            ),
            (
                "((info::jsonb) -> 'custom' ->> 'version') =",
                &listing.version,
            ),
        ] {
            if let Some(v) = value {
                args.push(v);
                conditions.push_str(&format!(" AND {condition} ${}", args.len() + 2));
            }
        }
        let rows = |c: &mut Client,
                    sql: &str,
                    before: i64,
                    n: i64|
         -> Result<Vec<Listed>, postgres::Error> {
            let mut all: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&before, &n];
            all.extend(&args);
            Ok(c.query(sql, &all)?
                .iter()
                .map(|r| Listed {
                    position: r.get(0),
                    path: r.get(1),
                    info: parse(r.get(2)),
                })
                .collect())
        };
        let plain = format!(
            "SELECT seq, path, info FROM artifacts WHERE seq < $1 AND {conditions} ORDER BY seq DESC LIMIT $2"
        );
        let before = listing.before.unwrap_or(i64::MAX);
        if pattern.is_none() {
            return self.with(|c| rows(c, &plain, before, limit));
        }
        // A path search. The newest SEARCH_WINDOW artifacts are read in order first: a term
        // with recent matches fills its page there. Only a page they do not fill asks the
        // trigram index, for every older match at once (materialised: left to itself, the
        // planner walks the seq index through the whole table, expecting a match soon).
        let windowed = format!(
            "SELECT seq, path, info FROM (SELECT seq, path, info, hardware FROM artifacts WHERE seq < $1
               ORDER BY seq DESC LIMIT {window}) recent
             WHERE {conditions} ORDER BY seq DESC LIMIT $2",
            window = self.search_window
        );
        self.with(|c| {
            let mut page = rows(c, &windowed, before, limit)?;
            if page.len() as i64 == limit {
                return Ok(page);
            }
            let (read, lowest): (i64, Option<i64>) = {
                let r = c.query_one(
                    &format!(
                        "SELECT count(*), min(seq) FROM (SELECT seq FROM artifacts WHERE seq < $1
                                ORDER BY seq DESC LIMIT {}) recent",
                        self.search_window
                    ),
                    &[&before],
                )?;
                (r.get(0), r.get(1))
            };
            if let (true, Some(lowest)) = (read == self.search_window, lowest) {
                let older = format!(
                    "WITH matches AS MATERIALIZED (SELECT seq, path, info, hardware FROM artifacts
                       WHERE path LIKE $3 AND seq < $1)
                     SELECT seq, path, info FROM matches WHERE {conditions} ORDER BY seq DESC LIMIT $2"
                );
                page.extend(rows(c, &older, lowest, limit - page.len() as i64)?);
            }
            Ok(page)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of its own on the local PostgreSQL (127.0.0.1:5432, trust authentication).
    fn fresh() -> (Postgres, String) {
        let name = format!("otuf_unit_{}_{}", std::process::id(), now());
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let mut c = Client::connect(admin, NoTls).expect("PostgreSQL on 127.0.0.1:5432");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let db = Postgres::open(&format!("postgres://postgres@127.0.0.1:5432/{name}")).unwrap();
        (db, name)
    }

    /// A path search gives what a scan of every artifact gives, newest first, page by page,
    /// whether its page is filled from the newest artifacts read in order, from the trigram
    /// index for the older ones, or from both (a window of 16 of 300 artifacts).
    #[test]
    fn a_path_search_past_its_window_is_what_a_scan_finds() {
        let (mut db, name) = fresh();
        db.search_window = 16;
        let rows: Vec<(String, String, Value)> = (0..300)
            .map(|i| {
                let path = format!("site-{}/unit-{i}.bin", i % 7);
                let hardware = if i % 3 == 0 { "plc" } else { "rtu" };
                (
                    path,
                    "bins-0".to_string(),
                    serde_json::json!({"length": i, "custom": {"hardware": hardware}}),
                )
            })
            .collect();
        db.apply(&[&Change::Upsert(rows.clone())]).unwrap();
        for (term, hardware) in [
            ("unit-1", None),
            ("site-3/", None),
            ("site-3/", Some("plc")),
            ("-29", None),
            ("unit-7.", None),
            ("none", None),
        ] {
            let want: Vec<String> = rows
                .iter()
                .rev()
                .filter(|(p, _, info)| {
                    p.contains(term) && hardware.is_none_or(|h| info["custom"]["hardware"] == h)
                })
                .map(|(p, _, _)| p.clone())
                .collect();
            let mut got = Vec::new();
            let mut before = None;
            loop {
                let page = db
                    .list_artifacts(&Listing {
                        path: Some(term.into()),
                        hardware: hardware.map(str::to_string),
                        before,
                        limit: 5,
                        ..Listing::default()
                    })
                    .unwrap();
                got.extend(page.iter().map(|l| l.path.clone()));
                if page.len() < 5 {
                    break;
                }
                before = page.last().map(|l| l.position);
            }
            assert_eq!(got, want, "{term} {hardware:?}");
        }
        drop(db);
        let mut c = Client::connect("postgres://postgres@127.0.0.1:5432/postgres", NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();
    }
}
