//! The embedded default: one SQLite file (WAL, synchronous FULL, so a task is on disk before its
//! 202 is answered). One process: its publication lock is a mutex.

use super::{
    now, Backend, Change, Deleted, Listed, Listing, PublicationLock, RoleState, Task, TaskState,
};
use crate::error::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

/// Records a new task (`PENDING`).
const INSERT_TASK: &str =
    "INSERT INTO tasks (id, action, payload, state, updated) VALUES (?1, ?2, ?3, 'PENDING', ?4)";

/// The state database in one SQLite file.
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
    /// One process publishes: the lock only orders its own publications.
    publication: Mutex<()>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (path TEXT PRIMARY KEY, bin TEXT NOT NULL, info TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS artifacts_bin ON artifacts (bin);
CREATE INDEX IF NOT EXISTS artifacts_hardware ON artifacts (json_extract(info, '$.custom.hardware'));
CREATE TABLE IF NOT EXISTS roles (name TEXT PRIMARY KEY, version INTEGER NOT NULL, expires INTEGER NOT NULL,
                                  length INTEGER NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, action TEXT NOT NULL, payload TEXT NOT NULL,
                                  state TEXT NOT NULL, result TEXT, updated INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state);
CREATE INDEX IF NOT EXISTS tasks_updated ON tasks (updated);
";

/// The listing (`list_artifacts`): newest first is rowid order (a REPLACE renews it); each
/// filter's index ends in the rowid, so a filtered page is read in order from its index. The
/// path search is a trigram index of the paths. New rows join it in one statement per
/// transaction (`index_new_paths`, from `artifacts_unindexed`): FTS5 flushes at every
/// statement, so a row at a time, as a trigger does, costs 14x more. A removal (a REPLACE too,
/// by `recursive_triggers`) leaves it by a trigger, unless the row never joined it.
const LISTING: &str = "
CREATE INDEX IF NOT EXISTS artifacts_channel ON artifacts (json_extract(info, '$.custom.channel'));
CREATE INDEX IF NOT EXISTS artifacts_version ON artifacts (json_extract(info, '$.custom.version'));
CREATE INDEX IF NOT EXISTS artifacts_hardware_channel ON artifacts
  (json_extract(info, '$.custom.hardware'), json_extract(info, '$.custom.channel'));
CREATE VIRTUAL TABLE artifacts_search USING fts5(path, content='artifacts', content_rowid='rowid', tokenize='trigram case_sensitive 1');
CREATE TABLE artifacts_unindexed (id INTEGER PRIMARY KEY);
CREATE TRIGGER artifacts_search_remove AFTER DELETE ON artifacts
WHEN old.rowid NOT IN (SELECT id FROM artifacts_unindexed) BEGIN
  INSERT INTO artifacts_search (artifacts_search, rowid, path) VALUES ('delete', old.rowid, old.path);
END;
INSERT INTO artifacts_search (artifacts_search) VALUES ('rebuild');
";

/// Fewer artifacts than this selected by the listing's filters lead a path search (see
/// `list_artifacts`).
const SELECTIVE: i64 = 5_000;

/// Binds the listing's values to the parameters `q` names (the query names only those given).
fn bind(
    q: &mut rusqlite::Statement<'_>,
    listing: &Listing,
    before: i64,
    term: Option<&str>,
) -> rusqlite::Result<()> {
    let values: [(&str, &dyn rusqlite::ToSql); 6] = [
        (":before", &before),
        (":term", &term),
        (":hardware", &listing.hardware),
        (":channel", &listing.channel),
        (":version", &listing.version),
        (":limit", &listing.limit),
    ];
    for (name, value) in values {
        if let Some(i) = q.parameter_index(name)? {
            q.raw_bind_parameter(i, value)?;
        }
    }
    Ok(())
}

/// Adds or replaces an artifact, and queues its new row for the path search (queued at once,
/// so that a removal later in the same transaction knows it never joined the index).
fn upsert_artifact(
    tx: &rusqlite::Transaction<'_>,
    path: &str,
    bin: &str,
    info: &Value,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO artifacts (path, bin, info) VALUES (?1, ?2, ?3)")?
        .execute(params![path, bin, info.to_string()])?;
    tx.prepare_cached("INSERT OR IGNORE INTO artifacts_unindexed (id) VALUES (?1)")?
        .execute([tx.last_insert_rowid()])?;
    Ok(())
}

/// Adds the rows queued by `upsert_artifact` (some may be gone again) to the path search.
fn index_new_paths(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "INSERT INTO artifacts_search (rowid, path)
           SELECT a.rowid, a.path FROM artifacts_unindexed u JOIN artifacts a ON a.rowid = u.id;
         DELETE FROM artifacts_unindexed;",
    )
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path`.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "recursive_triggers", "ON")?;
        let searchable: bool = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'artifacts_search'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !searchable {
            conn.execute_batch(&format!("BEGIN; {LISTING} COMMIT;"))?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            publication: Mutex::new(()),
        })
    }

    /// `f` with commits that are not fsynced themselves (synchronous NORMAL, WAL): durable with
    /// the next full commit. For what a crash may lose because it is redone from durable tasks.
    fn relaxed<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        self.with(|c| {
            c.pragma_update(None, "synchronous", "NORMAL")?;
            let r = f(c);
            c.pragma_update(None, "synchronous", "FULL")?;
            r
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(f(&mut guard)?)
    }
}

impl Backend for Sqlite {
    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                [key, value],
            )
            .map(|_| ())
        })
    }

    fn claim_setting(&self, key: &str, value: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
                [key, value],
            )
            .map(|n| n == 1)
        })
    }

    fn insert_tasks(&self, tasks: &[(String, String, Value)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare(INSERT_TASK)?;
                for (id, action, payload) in tasks {
                    q.execute(params![id, action, payload.to_string(), now()])?;
                }
            }
            tx.commit()
        })
    }

    fn task(&self, id: &str) -> Result<Option<(String, Option<Value>)>> {
        self.with(|c| {
            c.query_row("SELECT state, result FROM tasks WHERE id = ?1", [id], |r| {
                let result: Option<String> = r.get(1)?;
                Ok((
                    r.get(0)?,
                    result.and_then(|s| serde_json::from_str(&s).ok()),
                ))
            })
            .optional()
        })
    }

    fn recent_tasks(&self, limit: u32) -> Result<Vec<TaskState>> {
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT id, action, state, result, updated FROM tasks ORDER BY updated DESC, rowid DESC LIMIT ?1",
            )?;
            let rows = q.query_map([limit], |r| {
                let result: Option<String> = r.get(3)?;
                Ok(TaskState {
                    id: r.get(0)?,
                    action: r.get(1)?,
                    state: r.get(2)?,
                    result: result.and_then(|s| serde_json::from_str(&s).ok()),
                    updated: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    // Not fsynced: a claim lost in a crash is made again (interrupted tasks are claimed too).
    fn claim_tasks(&self) -> Result<Vec<Task>> {
        self.relaxed(|c| {
            let tx = c.transaction()?;
            let tasks = {
                let mut q = tx.prepare("SELECT id, action, payload FROM tasks WHERE state IN ('PENDING', 'RUNNING') ORDER BY rowid")?;
                let rows = q.query_map([], |r| {
                    let payload: String = r.get(2)?;
                    Ok(Task { id: r.get(0)?, action: r.get(1)?, payload: serde_json::from_str(&payload).unwrap_or(Value::Null) })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.execute("UPDATE tasks SET state = 'RUNNING', updated = ?1 WHERE state = 'PENDING'", [now()])?;
            tx.commit()?;
            Ok(tasks)
        })
    }

    fn finish_tasks(&self, outcomes: &[(&str, &str, &Value)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare(
                    "UPDATE tasks SET state = ?2, result = ?3, updated = ?4 WHERE id = ?1",
                )?;
                for (id, state, result) in outcomes {
                    q.execute(params![id, state, result.to_string(), now()])?;
                }
            }
            tx.commit()
        })
    }

    // Not fsynced itself (see `Backend::apply`).
    fn apply(&self, changes: &[&Change]) -> Result<Vec<Option<Deleted>>> {
        self.relaxed(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(changes.len());
            {
                let mut find = tx.prepare(
                    "SELECT bin, json_extract(info, '$.custom.hardware') FROM artifacts WHERE path = ?1",
                )?;
                let mut delete = tx.prepare("DELETE FROM artifacts WHERE path = ?1")?;
                for change in changes {
                    match change {
                        Change::Upsert(rows) => {
                            for (path, bin, info) in rows {
                                upsert_artifact(&tx, path, bin, info)?;
                            }
                            out.push(None);
                        }
                        Change::Delete(paths) => {
                            let mut d = Deleted::default();
                            for p in paths {
                                let found: Option<(String, Option<String>)> = find
                                    .query_row([p], |r| Ok((r.get(0)?, r.get(1).ok().flatten())))
                                    .optional()?;
                                match found {
                                    Some((b, hardware)) => {
                                        delete.execute([p])?;
                                        d.removed.push(p.clone());
                                        d.roles.push(b);
                                        d.hardware.extend(hardware);
                                    }
                                    None => d.missing.push(p.clone()),
                                }
                            }
                            out.push(Some(d));
                        }
                    }
                }
            }
            index_new_paths(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn import(&self, rows: &[(String, String, Value)], task: (&str, &str, &Value)) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for (path, bin, info) in rows {
                upsert_artifact(&tx, path, bin, info)?;
            }
            index_new_paths(&tx)?;
            let (id, action, payload) = task;
            tx.execute(INSERT_TASK, params![id, action, payload.to_string(), now()])?;
            tx.commit()
        })
    }

    fn artifact_roles(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut q = c.prepare("SELECT path, bin FROM artifacts ORDER BY path")?;
            let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn move_artifacts(&self, moves: &[(String, String)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare("UPDATE artifacts SET bin = ?2 WHERE path = ?1")?;
                for (path, role) in moves {
                    q.execute(params![path, role])?;
                }
            }
            tx.commit()
        })
    }

    fn artifacts_in_roles(
        &self,
        roles: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<(String, Value)>>> {
        self.with(|c| {
            let mut q =
                c.prepare_cached("SELECT path, info FROM artifacts WHERE bin = ?1 ORDER BY path")?;
            let mut out = BTreeMap::new();
            for role in roles {
                let rows = q.query_map([role], |r| {
                    let info: String = r.get(1)?;
                    Ok((
                        r.get(0)?,
                        serde_json::from_str(&info).unwrap_or(Value::Null),
                    ))
                })?;
                out.insert(role.clone(), rows.collect::<rusqlite::Result<Vec<_>>>()?);
            }
            Ok(out)
        })
    }

    fn artifacts_at(&self, paths: &BTreeSet<String>) -> Result<Vec<(String, Value)>> {
        self.with(|c| {
            let mut q = c.prepare_cached("SELECT info FROM artifacts WHERE path = ?1")?;
            let mut out = Vec::new();
            for path in paths {
                let info: Option<String> = q.query_row([path], |r| r.get(0)).optional()?;
                if let Some(info) = info {
                    out.push((
                        path.clone(),
                        serde_json::from_str(&info).unwrap_or(Value::Null),
                    ));
                }
            }
            Ok(out)
        })
    }

    fn artifacts_for_hardware(&self, hardware: &str) -> Result<Vec<(String, Value)>> {
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT path, info FROM artifacts WHERE json_extract(info, '$.custom.hardware') = ?1 ORDER BY path",
            )?;
            let rows = q.query_map([hardware], |r| {
                let info: String = r.get(1)?;
                Ok((r.get(0)?, serde_json::from_str(&info).unwrap_or(Value::Null)))
            })?;
            rows.collect()
        })
    }

    fn list_artifacts(&self, listing: &Listing) -> Result<Vec<Listed>> {
        let term = listing.path.as_deref().filter(|t| !t.is_empty());
        // Only the filters given, so that the planner can read a filter's index in order.
        let mut conditions = String::new();
        for (field, value) in [
            ("hardware", &listing.hardware),
            ("channel", &listing.channel),
            ("version", &listing.version),
        ] {
            if value.is_some() {
                conditions.push_str(&format!(
                    " AND json_extract(a.info, '$.custom.{field}') = :{field}"
                ));
            }
        }
        let before = listing.before.unwrap_or(i64::MAX);
        // A path is searched through the trigram index (from three characters), unless the
        // filters given select fewer than SELECTIVE artifacts: then their index leads and each
        // path is checked as it comes.
        let indexed = term.is_some_and(|t| t.chars().count() >= 3)
            && (conditions.is_empty()
                || {
                    let sql = format!(
                    "SELECT count(*) FROM (SELECT 1 FROM artifacts a WHERE a.rowid < :before{conditions} LIMIT {SELECTIVE})"
                );
                    let counted = self.with(|c| {
                        let mut q = c.prepare_cached(&sql)?;
                        bind(&mut q, listing, before, None)?;
                        let mut rows = q.raw_query();
                        rows.next()?.map_or(Ok(0), |r| r.get::<_, i64>(0))
                    })?;
                    counted == SELECTIVE
                });
        // Through the trigram index, the matches are walked newest first (CROSS JOIN keeps the
        // index the outer loop) and the walk stops at a page: no match set is built. The device
        // indexes under otuf-index/ are the service's own, not for people.
        let mut sql = String::from(if indexed {
            "SELECT a.rowid, a.path, a.info FROM artifacts_search s CROSS JOIN artifacts a ON a.rowid = s.rowid
             WHERE artifacts_search MATCH :term AND s.rowid < :before"
        } else {
            "SELECT a.rowid, a.path, a.info FROM artifacts a WHERE a.rowid < :before"
        });
        sql.push_str(" AND substr(a.path, 1, 11) <> 'otuf-index/'");
        if term.is_some() && !indexed {
            sql.push_str(" AND instr(a.path, :term) > 0");
        }
        sql.push_str(&conditions);
        sql.push_str(if indexed {
            " ORDER BY s.rowid DESC LIMIT :limit"
        } else {
            " ORDER BY a.rowid DESC LIMIT :limit"
        });
        // An FTS5 phrase: the term quoted, its quotes doubled.
        let pattern = term.map(|t| {
            if indexed {
                format!("\"{}\"", t.replace('"', "\"\""))
            } else {
                t.to_string()
            }
        });
        self.with(|c| {
            let mut q = c.prepare_cached(&sql)?;
            bind(&mut q, listing, before, pattern.as_deref())?;
            let mut rows = q.raw_query();
            let mut page = Vec::new();
            while let Some(r) = rows.next()? {
                let info: String = r.get(2)?;
                page.push(Listed {
                    position: r.get(0)?,
                    path: r.get(1)?,
                    info: serde_json::from_str(&info).unwrap_or(Value::Null),
                });
            }
            Ok(page)
        })
    }

    fn roles(&self) -> Result<Vec<(String, RoleState)>> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT name, version, expires, length, sha256 FROM roles ORDER BY name",
            )?;
            let rows = q.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    RoleState {
                        version: r.get(1)?,
                        expires: r.get(2)?,
                        length: r.get(3)?,
                        sha256: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    fn commit(
        &self,
        roles: &[(String, RoleState)],
        settings: &[(&str, Option<&str>)],
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare(
                    "INSERT OR REPLACE INTO roles (name, version, expires, length, sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (name, s) in roles {
                    q.execute(params![name, s.version, s.expires, s.length, s.sha256])?;
                }
            }
            write_settings(&tx, settings)?;
            tx.commit()
        })
    }

    fn set_settings(&self, settings: &[(&str, Option<&str>)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            write_settings(&tx, settings)?;
            tx.commit()
        })
    }

    fn settings(&self) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut q = c.prepare("SELECT key, value FROM settings ORDER BY key")?;
            let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn queued_tasks(&self) -> Result<u64> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM tasks WHERE state IN ('PENDING', 'RUNNING')",
                [],
                |r| r.get(0),
            )
        })
    }

    fn forget_tasks(&self, before: i64) -> Result<u64> {
        self.with(|c| {
            c.execute(
                "DELETE FROM tasks WHERE state NOT IN ('PENDING', 'RUNNING') AND updated < ?1",
                [before],
            )
            .map(|n| n as u64)
        })
    }

    fn lock_publication(&self) -> Result<Box<dyn PublicationLock + '_>> {
        Ok(Box::new(
            self.publication
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ))
    }

    fn generation(&self) -> Result<i64> {
        Ok(0) // one process: what it caches is always current
    }

    fn is_shared(&self) -> bool {
        false
    }
}

fn write_settings(
    tx: &rusqlite::Transaction<'_>,
    settings: &[(&str, Option<&str>)],
) -> rusqlite::Result<()> {
    for (key, value) in settings {
        match value {
            Some(v) => tx.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                [key, v],
            )?,
            None => tx.execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An artifact added and removed in one transaction, one replaced in it, and one removed
    /// after it was indexed: the path search finds exactly what is there, and FTS5's own
    /// integrity check passes (a removal of a row that never joined the index would fail it).
    #[test]
    fn the_path_search_follows_additions_and_removals_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(&dir.path().join("state.sqlite3")).unwrap();
        let row = |p: &str| {
            (
                p.to_string(),
                "bins-0".to_string(),
                serde_json::json!({"length": 1}),
            )
        };
        db.apply(&[&Change::Upsert(vec![
            row("keep/old.bin"),
            row("gone/old.bin"),
        ])])
        .unwrap();
        db.apply(&[
            &Change::Upsert(vec![row("tmp/a.bin"), row("keep/new.bin")]),
            &Change::Delete(vec!["tmp/a.bin".into(), "gone/old.bin".into()]),
            &Change::Upsert(vec![row("keep/new.bin"), row("tmp/b.bin")]),
        ])
        .unwrap();
        let search = |term: &str| -> Vec<String> {
            let listing = Listing {
                path: Some(term.into()),
                limit: 50,
                ..Listing::default()
            };
            db.list_artifacts(&listing)
                .unwrap()
                .into_iter()
                .map(|l| l.path)
                .collect()
        };
        assert_eq!(search("keep/"), ["keep/new.bin", "keep/old.bin"]);
        assert_eq!(search("tmp/"), ["tmp/b.bin"]);
        assert_eq!(search("gone/"), Vec::<String>::new());
        db.with(|c| {
            c.execute_batch(
                "INSERT INTO artifacts_search (artifacts_search) VALUES ('integrity-check')",
            )
        })
        .unwrap();
    }
}
