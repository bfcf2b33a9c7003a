//! One update cycle, as `otuf-agent update` runs it (and each cycle of `run` will): check;
//! download the chosen image into staging (bounded by its signed length, every hash checked
//! while streaming; outside maintenance windows only when downloads are not confined to them);
//! then, inside a window: the pre-install hook (a failure aborts, nothing changed), the
//! installation, the post-install hook and the health check (a failure of either rolls the
//! installation back), and the outcome in the install history.
//!
//! Every step is written to the journal before it is taken. A cycle that finds an update under
//! way (a power cut, a kill) first settles it: an image already in place is finished (hooks and
//! health check run again), anything before that starts over from a verified download.

use super::check::{check, installed_version, metadata_dir, Checked};
use super::config::{Config, Install};
use super::journal::{
    Installed, Journal, MetadataVersions, Outcome, Pending, Phase, Record, State,
};
use super::select::Decision;

use crate::client::Updater;
use crate::error::{Error, Result};
use crate::install;
use otuf_core::limits::Limits;
use std::path::Path;
use std::time::Duration;

/// How a cycle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cycle {
    /// The new firmware is installed.
    Installed {
        /// Target path.
        target: String,
        /// Its version.
        version: String,
    },
    /// It was installed and taken back (why).
    RolledBack(String),
    /// A/B: written to the free slot, the bootloader switched to it; the next cycle, after the
    /// reboot, confirms it or switches back (what to do now).
    Switched(String),
    /// Nothing to do (why, in a sentence).
    Nothing(String),
    /// An update waits for the next maintenance window (when it opens).
    Waiting(String),
}

fn unix_now() -> i64 {
    crate::client::now().0
}

/// Runs `command` (a hook, the health check) with the artifact in its environment; `Err` with
/// why when it does not exit 0 in time.
async fn run(
    command: &[String],
    env: &[(&str, String)],
    timeout: Duration,
) -> std::result::Result<(), String> {
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    let mut c = tokio::process::Command::new(program);
    c.args(args).kill_on_drop(true);
    for (k, v) in env {
        c.env(k, v);
    }
    match tokio::time::timeout(timeout, c.status()).await {
        Err(_) => Err(format!(
            "{program}: no answer within {} s",
            timeout.as_secs()
        )),
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(format!("{program}: exited with {s}")),
    }
}

struct Attempt<'a> {
    config: &'a Config,
    journal: &'a Journal,
    pending: Pending,
    from: Option<String>,
    metadata: MetadataVersions,
}

impl Attempt<'_> {
    fn env(&self, file: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("OTUF_FILE", file.display().to_string()),
            ("OTUF_TARGET", self.pending.target.clone()),
            ("OTUF_VERSION", self.pending.version.clone()),
            ("OTUF_FROM_VERSION", self.from.clone().unwrap_or_default()),
            ("OTUF_HARDWARE", self.config.device.hardware.clone()),
        ]
    }

    fn record(&self, outcome: Outcome, detail: Option<String>) -> Result<()> {
        self.journal.record(&Record {
            at: unix_now(),
            target: self.pending.target.clone(),
            version: self.pending.version.clone(),
            from_version: self.from.clone(),
            outcome,
            detail,
            metadata: self.metadata.clone(),
        })
    }

    fn set_phase(&mut self, state: &mut State, phase: Phase) -> Result<()> {
        self.pending.phase = phase;
        state.pending = Some(self.pending.clone());
        self.journal.save(state)
    }

    /// The post-install hook, then the health check: why the new firmware fails, if it does.
    async fn works(&self, file: &Path) -> Option<String> {
        let env = self.env(file);
        if let Some(post) = &self.config.hooks.post_install {
            if let Err(why) = run(post, &env, Duration::from_secs(600)).await {
                return Some(format!("post-install hook: {why}"));
            }
        }
        if let Some(h) = &self.config.health {
            if let Err(why) = run(&h.command, &env, Duration::from_secs(h.timeout_secs)).await {
                return Some(format!("health check: {why}"));
            }
        }
        None
    }

    /// Records a failure that changed nothing or was taken back.
    fn failed(&self, state: &mut State, outcome: Outcome, why: &str) -> Result<()> {
        state.pending = None;
        state.last_error = Some(why.to_string());
        self.journal.save(state)?;
        self.record(outcome, Some(why.to_string()))
    }

    /// Records the new firmware as installed.
    fn installed(&self, state: &mut State, slot: Option<String>) -> Result<Cycle> {
        state.installed = Some(Installed {
            target: self.pending.target.clone(),
            version: self.pending.version.clone(),
            sha256: self.pending.sha256.clone(),
            slot,
            since: unix_now(),
        });
        state.pending = None;
        state.last_error = None;
        self.journal.save(state)?;
        self.record(Outcome::Installed, None)?;
        Ok(Cycle::Installed {
            target: self.pending.target.clone(),
            version: self.pending.version.clone(),
        })
    }

    /// From an image in place (the `file` installer): hooks, health, and the record.
    async fn finish(&self, state: &mut State, path: &Path) -> Result<Cycle> {
        if let Some(why) = self.works(path).await {
            install::file::roll_back(path)?;
            self.failed(state, Outcome::RolledBack, &why)?;
            return Ok(Cycle::RolledBack(why));
        }
        self.installed(state, None)
    }

    /// A/B, after the reboot into the new slot: hooks and health, then confirm or switch back.
    async fn confirm_slot(&self, state: &mut State) -> Result<Cycle> {
        let Install::Ab {
            slots,
            switch_command,
            confirm_command,
            boot_id_file,
            current_slot_command,
        } = &self.config.install
        else {
            return Err(Error::Usage("not an A/B installation".into()));
        };
        let slot = self.pending.slot.clone().unwrap_or_else(|| "b".into());
        if boot_id(boot_id_file)? == self.pending.boot_id {
            return Ok(Cycle::Switched(format!(
                "{} ({}) waits in slot {slot} for the reboot into it",
                self.pending.target, self.pending.version
            )));
        }
        // Booted, but which slot? The bootloader may have fallen back.
        if let Some(booted) = booted_slot(current_slot_command.as_deref()).await? {
            if booted != slot {
                let why = format!("the device booted slot {booted}, not slot {slot} (the bootloader fell back, or the switch did not happen)");
                self.failed(state, Outcome::RolledBack, &why)?;
                return Ok(Cycle::RolledBack(why));
            }
        }
        let at = |s: &str| &slots[usize::from(s == "b")];
        let minutes = Duration::from_secs(600);
        let mut failure = self.works(at(&slot)).await;
        if let (None, Some(confirm)) = (&failure, confirm_command) {
            let command = install::ab::expand(confirm, &slot, at(&slot));
            if let Err(why) = run(&command, &self.env(at(&slot)), minutes).await {
                failure = Some(format!("confirm command: {why}"));
            }
        }
        let Some(why) = failure else {
            return self.installed(state, Some(slot));
        };
        let back = install::ab::other(&slot);
        let command = install::ab::expand(switch_command, back, at(back));
        let why = match run(&command, &self.env(at(back)), minutes).await {
            Ok(()) => format!("{why}; switched back to slot {back}: reboot into it"),
            Err(e) => format!("{why}; switching back to slot {back} failed too: {e}"),
        };
        self.failed(state, Outcome::RolledBack, &why)?;
        Ok(Cycle::RolledBack(why))
    }
}

/// The slot the device booted, when `command` can say (`a` or `b`).
async fn booted_slot(command: Option<&[String]>) -> Result<Option<String>> {
    let Some((program, args)) = command.and_then(<[String]>::split_first) else {
        return Ok(None);
    };
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| Error::Usage(format!("current_slot_command {program}: {e}")))?;
    let slot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !install::ab::NAMES.contains(&slot.as_str()) {
        return Err(Error::Usage(format!(
            "current_slot_command {program}: printed {slot:?} (exit {}), not a or b",
            out.status
        )));
    }
    Ok(Some(slot))
}

/// The kernel's boot id (it changes with every boot).
fn boot_id(file: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(file) {
        Ok(id) => Ok(Some(id.trim().to_string())),
        Err(e) => Err(Error::io(file)(e)),
    }
}

fn sha256_of(path: &Path) -> Option<String> {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let file = std::fs::File::open(path).ok()?;
    crate::persist::each_chunk(file, |chunk| {
        hash.update(chunk);
        true
    })
    .then(|| hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// One cycle (see the module documentation).
pub async fn update(config: &Config) -> Result<Cycle> {
    let journal = Journal::open(&config.state_dir)?;
    let mut state = journal.state()?;
    // An update under way (a reboot into a new slot, or a power cut): a new slot is confirmed
    // or switched back, an image in place finished, anything earlier redone.
    if let Some(pending) = state.pending.clone() {
        let attempt = Attempt {
            config,
            journal: &journal,
            from: installed_version(config, &state).map(|v| v.to_string()),
            pending: pending.clone(),
            metadata: MetadataVersions::default(),
        };
        match (&config.install, pending.phase) {
            (Install::Ab { .. }, Phase::Switched) => return attempt.confirm_slot(&mut state).await,
            (Install::File { path }, Phase::Installing)
                if sha256_of(path).as_deref() == Some(&pending.sha256) =>
            {
                return attempt.finish(&mut state, path).await
            }
            _ => {
                state.pending = None;
                journal.save(&state)?;
            }
        }
    }
    let Checked {
        decision,
        mirror,
        metadata,
    } = match check(config, &state).await {
        Ok(c) => c,
        Err(e) => {
            state.last_check = Some(unix_now());
            state.last_error = Some(e.to_string());
            journal.save(&state)?;
            return Err(e);
        }
    };
    state.last_check = Some(unix_now());
    let (target, version, rollback) = match decision {
        Decision::Install {
            path,
            version,
            rollback,
        } => (path, version, rollback),
        Decision::UpToDate => {
            journal.save(&state)?;
            return Ok(Cycle::Nothing("up to date".into()));
        }
        Decision::NothingForThisDevice => {
            journal.save(&state)?;
            return Ok(Cycle::Nothing(format!(
                "no artifact for hardware {} on channel {}",
                config.device.hardware, config.device.channel
            )));
        }
        Decision::Refused(why) => {
            state.last_error = Some(why.clone());
            journal.save(&state)?;
            return Ok(Cycle::Nothing(format!("nothing installed: {why}")));
        }
    };
    // A firmware that had to be rolled back is not tried again on every cycle: it waits for a
    // newer artifact.
    if let Some(r) = journal.history()?.iter().rev().find(|r| {
        r.target == target && r.version == version.to_string() && r.outcome == Outcome::RolledBack
    }) {
        journal.save(&state)?;
        return Ok(Cycle::Nothing(format!(
            "{target} ({version}) was rolled back at {} ({}): not tried again",
            r.at,
            r.detail.as_deref().unwrap_or("")
        )));
    }
    let closed = config
        .maintenance
        .as_ref()
        .filter(|w| !w.is_open(jiff::Timestamp::now()));
    let waiting = |w: &super::window::Windows| {
        let when = w
            .next_open(jiff::Timestamp::now())
            .map_or("not within a week".into(), |z| z.to_string());
        Cycle::Waiting(format!(
            "{target} ({version}) waits for the next maintenance window ({}): {when}",
            w.zone_name()
        ))
    };
    if let Some(w) = closed.filter(|_| config.download.within_windows) {
        journal.save(&state)?;
        return Ok(waiting(w));
    }

    // Download into staging, verified against the metadata of the mirror that decided.
    let m = &config.repository.mirrors[mirror];
    let updater = Updater::new(
        &metadata_dir(config),
        &m.metadata,
        super::check::fetcher(config)?,
        Limits::default(),
    )?;
    let client = updater.refresh().await?;
    let info = updater
        .target_info(&client, &target)
        .await?
        .ok_or_else(|| Error::TargetNotFound(target.clone()))?;
    let sha256 = info
        .hashes
        .sha256
        .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
        .unwrap_or_default();
    let mut attempt = Attempt {
        config,
        journal: &journal,
        from: installed_version(config, &state).map(|v| v.to_string()),
        pending: Pending {
            phase: Phase::Downloading,
            target: target.clone(),
            version: version.to_string(),
            sha256,
            length: info.length,
            rollback,
            slot: None,
            started: unix_now(),
            boot_id: None,
        },
        metadata,
    };
    attempt.set_phase(&mut state, Phase::Downloading)?;
    let staging = config.state_dir.join("staging");
    // A cut download (a dropped link, a power cut) resumes where it stopped.
    let partial = config.state_dir.join("partial");
    let staged = updater
        .download_resuming(&client, &target, &m.targets, &staging, Some(&partial))
        .await?;
    attempt.set_phase(&mut state, Phase::Downloaded)?;
    if let Some(w) = closed {
        return Ok(waiting(w));
    }

    if let Some(pre) = &config.hooks.pre_install {
        if let Err(why) = run(pre, &attempt.env(&staged), Duration::from_secs(600)).await {
            let why = format!("pre-install hook: {why}; nothing was changed");
            state.pending = None;
            state.last_error = Some(why.clone());
            journal.save(&state)?;
            attempt.record(Outcome::Failed, Some(why.clone()))?;
            return Ok(Cycle::Nothing(why));
        }
    }
    match &config.install {
        Install::File { path } => {
            attempt.set_phase(&mut state, Phase::Installing)?;
            install::file::install(&staged, path)?;
            attempt.finish(&mut state, path).await
        }
        Install::Command { command } => {
            attempt.set_phase(&mut state, Phase::Installing)?;
            let mut env = attempt.env(&staged);
            env.push(("OTUF_ACTION", "install".into()));
            if let Err(why) = run(command, &env, Duration::from_secs(3600)).await {
                let why = format!("install command: {why}");
                attempt.failed(&mut state, Outcome::Failed, &why)?;
                return Ok(Cycle::Nothing(why));
            }
            if let Some(why) = attempt.works(&staged).await {
                env.retain(|(k, _)| *k != "OTUF_ACTION");
                env.push(("OTUF_ACTION", "rollback".into()));
                let why = match run(command, &env, Duration::from_secs(3600)).await {
                    Ok(()) => why,
                    Err(e) => format!("{why}; the rollback failed too: {e}"),
                };
                attempt.failed(&mut state, Outcome::RolledBack, &why)?;
                return Ok(Cycle::RolledBack(why));
            }
            attempt.installed(&mut state, None)
        }
        Install::Ab {
            slots,
            switch_command,
            boot_id_file,
            current_slot_command,
            ..
        } => {
            // The free slot: the running one is never written. The bootloader says which one
            // runs when it can be asked; otherwise the journal does.
            let running = match booted_slot(current_slot_command.as_deref()).await? {
                Some(s) => s,
                None => state
                    .installed
                    .as_ref()
                    .and_then(|i| i.slot.clone())
                    .unwrap_or_else(|| "a".into()),
            };
            let slot = install::ab::other(&running);
            let at = &slots[usize::from(slot == "b")];
            attempt.pending.slot = Some(slot.into());
            attempt.set_phase(&mut state, Phase::Installing)?;
            let (length, sha256) = (attempt.pending.length, attempt.pending.sha256.clone());
            let switched = match install::ab::write_slot(&staged, at, length, &sha256) {
                Ok(()) => {
                    let command = install::ab::expand(switch_command, slot, at);
                    run(&command, &attempt.env(at), Duration::from_secs(600))
                        .await
                        .map_err(|why| format!("switch command: {why}"))
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(why) = switched {
                let why = format!("{why}; still running slot {running}");
                attempt.failed(&mut state, Outcome::Failed, &why)?;
                return Ok(Cycle::Nothing(why));
            }
            attempt.pending.boot_id = boot_id(boot_id_file)?;
            attempt.set_phase(&mut state, Phase::Switched)?;
            Ok(Cycle::Switched(format!(
                "{target} ({version}) written to slot {slot} and the bootloader switched to it: reboot into it; the next cycle confirms it or switches back"
            )))
        }
    }
}

/// `otuf-agent run`: update cycles for ever, `poll.interval_secs` apart plus up to
/// `poll.jitter_secs` at random (a fleet does not poll in step). A failed cycle is logged and
/// retried at the next one.
pub async fn run_forever(config: &Config) -> ! {
    loop {
        match update(config).await {
            Ok(Cycle::Installed { target, version }) => {
                tracing::info!("installed {target} ({version})")
            }
            Ok(Cycle::RolledBack(why)) => tracing::warn!("rolled back: {why}"),
            Ok(Cycle::Nothing(why) | Cycle::Waiting(why) | Cycle::Switched(why)) => {
                tracing::info!("{why}")
            }
            Err(e) => tracing::error!("update cycle failed: {e}"),
        }
        let jitter = fastrand::u64(0..=config.poll.jitter_secs);
        tokio::time::sleep(Duration::from_secs(config.poll.interval_secs + jitter)).await;
    }
}
