//! Running the HTTP server: bind, serve, stop gracefully on SIGTERM/SIGINT.

use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use zhifa_store::health::Concern;
use zhifa_store::keys::KeyStore;
use zhifa_store::{Store, now_ms};
use zhifa_web::{AppState, WebConfig, app};

/// Binds first, so that a taken port is reported before anything else happens.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "端口已被占用：{addr}。请先停止占用该端口的程序，或用 --addr 指定其他端口。\n\
                 address already in use: {addr}; stop the other program or choose another --addr"
            )
        } else {
            anyhow::anyhow!("无法监听 / cannot listen on {addr}: {e}")
        }
    })
}

pub async fn serve(
    listener: TcpListener,
    store: Store,
    config: WebConfig,
    keys: Option<KeyStore>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    // The procedures are compiled in; a broken definition stops the server here, named,
    // rather than at the first case that meets it.
    zhifa_domain::procedure::shipped().map_err(|e| anyhow::anyhow!("{e}"))?;
    let idle = config.idle_timeout;
    let absolute = config.absolute_timeout;
    let lockout = config.lockout_window;
    // Before the first request: a database put back behind what was signed takes no
    // change at all (the checkpointer keeps checking afterwards).
    if let Some(k) = &keys {
        let unmet = store.rollback_findings(k).await?;
        store.set_halted(
            Concern::Rollback,
            unmet.iter().map(|u| u.to_string()).collect(),
        );
    }
    // A damaged database file stops the server here, with SQLite's own words.
    let damage = store.quick_check().await?;
    if !damage.is_empty() {
        anyhow::bail!(
            "数据库完整性检查未通过，请从备份恢复 / the database failed its integrity check:\n{}",
            damage.join("\n")
        );
    }
    let state = AppState::with_keys(store.clone(), config, keys.clone());
    let sweeper = tokio::spawn(sweep(store.clone(), idle, absolute, lockout));
    let nudge = state.checkpoint_now.clone();
    let checkpointer = keys.map(|k| tokio::spawn(checkpoint(store.clone(), k, nudge)));
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.wait())
    .await
    .context("server failed")?;
    sweeper.abort();
    if let Some(c) = checkpointer {
        c.abort();
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Signs a checkpoint for every log that grew, at start and then every few seconds, so a
/// growing log gets one at least every minute.
/// A request that needs its entries signed (an archive export) may ask for one at once.
async fn checkpoint(store: Store, keys: KeyStore, now: std::sync::Arc<tokio::sync::Notify>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let witnesses = crate::witnessing::client();
    let mut asking: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = now.notified() => {}
        }
        // A log behind what this key store signed stops every change of record until an
        // administrator acts (`zhifa ledger rebase`); fixed, changes resume.
        match store.rollback_findings(&keys).await {
            Ok(unmet) => store.set_halted(
                Concern::Rollback,
                unmet.iter().map(|u| u.to_string()).collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not compare the logs with the signer's records")
            }
        }
        let outcome = store.checkpoint_all(&keys).await;
        store.record_checkpoint_run(now_ms(), outcome.as_ref().err().map(|e| e.to_string()));
        match outcome {
            Ok(n) if n > 0 => tracing::info!(checkpoints = n, "checkpoints signed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checkpoint signing failed"),
        }
        // What was signed goes to the witnesses, so that someone outside this installation
        // holds it; on a task of its own, so that a witness that does not answer never
        // delays the next signing.
        if asking.as_ref().is_none_or(|t| t.is_finished()) {
            let (store, client) = (store.clone(), witnesses.clone());
            asking = Some(tokio::spawn(async move {
                crate::witnessing::submit_all(&store, &client).await
            }));
        }
    }
}

/// Rows checked against their entries every sweep (every five minutes): 1.44 million a
/// day, so a township's every row is checked several times a day.
const ROWS_PER_SWEEP: usize = 5_000;

/// Deletes expired sessions and old failed-login records every few minutes (each request
/// also checks its own session; failures only matter inside the lockout window).
async fn sweep(store: Store, idle: Duration, absolute: Duration, lockout: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    let mut rows = zhifa_store::row_sweep::SweepCursor::default();
    loop {
        tick.tick().await;
        let now = now_ms();
        match store
            .purge_sessions(
                now - idle.as_millis() as i64,
                now - absolute.as_millis() as i64,
            )
            .await
        {
            Ok(n) if n > 0 => tracing::info!(sessions = n, "expired sessions removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "session sweep failed"),
        }
        if let Err(e) = store
            .purge_login_failures(now - 2 * lockout.as_millis() as i64)
            .await
        {
            tracing::warn!(error = %e, "failed-login sweep failed");
        }
        // A slice of the stored rows checked against their entries, round and round: a
        // row changed behind zhifa's back is found even if nobody acts on it.
        match store.sweep_rows(&mut rows, ROWS_PER_SWEEP).await {
            Ok(run) => {
                store.record_row_sweep(now_ms(), run.checked, run.tampered.len(), run.wrapped)
            }
            Err(e) => tracing::warn!(error = %e, "row check failed to run"),
        }
        // A page damaged while running stops changes until the database is repaired.
        match store.quick_check().await {
            Ok(damage) => store.set_halted(Concern::Database, damage),
            Err(e) => tracing::warn!(error = %e, "integrity check failed to run"),
        }
    }
}

/// Signal handlers, installed before anything slow happens so that a SIGTERM during
/// start-up still shuts down cleanly instead of killing the process.
pub struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    pub fn install() -> anyhow::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown {
                term: signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?,
                int: signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received, finishing requests in flight");
    }
}
