//! SQLite's one writer: a thread of its own holding the one connection that writes, the
//! two kept on one core.
//!
//! sqlx runs each SQLite connection on a worker thread of its own, and every statement —
//! every row a statement returns — is a hand-off between the caller's thread and that
//! worker. With a second core idle, the scheduler wakes the other core for each hand-off,
//! and on a virtual machine that wake-up costs more than the SQL itself: a case act is
//! about twenty hand-offs (BENCHMARKS.md, "Transitions"). Here the writer's runtime thread
//! and its connection's worker share one core, where a hand-off is a plain switch between
//! two threads, and are batch threads, so that waking one does not preempt the other; acts
//! run on that thread from start to commit (`Store::on_writer`). Reads keep the shared
//! pool, on every core.
//!
//! The worker thread inherits the core from the thread that opens the connection, so the
//! connection is opened, and reopened, only from the writer's own thread: the pool keeps
//! its one connection for good, and its upkeep tasks run on the writer's runtime.

use crate::error::StoreError;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::future::Future;

/// The writer thread, its runtime and its one-connection pool. Dropping it ends the thread.
#[derive(Debug)]
pub(crate) struct Writer {
    pool: AnyPool,
    runtime: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Writer {
    /// Starts the thread and opens the connection on it with `options`.
    pub(crate) async fn start(url: &str, options: AnyPoolOptions) -> Result<Writer, StoreError> {
        let options = options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("zhifa-writer".into())
            .spawn(move || {
                ON_WRITER_THREAD.set(true);
                keep_to_one_core();
                // Timers only (the pool's timeouts): SQLite needs no I/O driver, and without
                // one the thread waits on a futex, which is quicker to wake than epoll.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(StoreError::Corrupt(format!("写入线程：{e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match options.connect(&url).await {
                        Ok(pool) => {
                            let handle = tokio::runtime::Handle::current();
                            if ready_tx.send(Ok((pool, handle))).is_ok() {
                                // Runs the acts and the pool's upkeep until dropped.
                                let _ = stop_rx.await;
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                        }
                    }
                });
            })
            .map_err(|e| StoreError::Corrupt(format!("写入线程：{e}")))?;
        let (pool, runtime) = ready_rx
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))??;
        Ok(Writer {
            pool,
            runtime,
            _stop: stop_tx,
        })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs `work` on the writer's thread. It runs to the end even when the caller stops
    /// waiting (a closed browser tab does not cut an act short).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.runtime.spawn(work).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The writer is shutting down with the store.
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

thread_local! {
    static ON_WRITER_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the caller runs on a writer's thread, where a statement's hand-off to the
/// connection's worker stays on one core (cheap), rather than crossing cores (dear).
pub(crate) fn on_writer_thread() -> bool {
    ON_WRITER_THREAD.get()
}

/// Keeps the calling thread, and the threads it starts, on one core of those allowed —
/// the last, away from where the system starts its work — as batch threads
/// (`SCHED_BATCH`): a thread woken by another on the core waits for it to block rather
/// than preempting it, so a hand-off costs one switch, not two.
#[cfg(target_os = "linux")]
fn keep_to_one_core() {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `cpu_set_t` is plain bits, zero is a valid (empty) set, and the calls touch
    // only the set and parameters passed and the calling thread's own scheduling (pid 0).
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
            return;
        }
        let Some(core) = (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&c| libc::CPU_ISSET(c, &allowed))
        else {
            return;
        };
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut one);
        // Failing leaves the thread as it was: slower, not wrong.
        libc::sched_setaffinity(0, size, &one);
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}

#[cfg(not(target_os = "linux"))]
fn keep_to_one_core() {}

#[cfg(test)]
mod tests {
    use crate::Store;
    use crate::write::Actor;

    /// Acts and every write transaction of a SQLite store use the writer's one connection;
    /// work sent to the writer runs on its thread, and a write begun elsewhere still commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_go_through_the_writer_thread_and_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_data_dir(dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        let thread = store
            .on_writer(|_| async { Ok(std::thread::current().name().map(str::to_owned)) })
            .await
            .unwrap();
        assert_eq!(thread.as_deref(), Some("zhifa-writer"));
        assert!(
            !super::on_writer_thread(),
            "the test's own thread is not the writer"
        );
        // A write from this task and one from the writer's thread, in turn.
        let size = |s: Store| async move { Ok(s.log_heads().await?.len()) };
        let mut tx = store.write(Actor::System("test")).await.unwrap();
        tx.record_event(None, "test.event", "test", 1, serde_json::json!({"n": 1}));
        tx.commit().await.unwrap();
        store
            .on_writer(|s| async move {
                assert!(super::on_writer_thread());
                let mut tx = s.write(Actor::System("test")).await?;
                tx.record_event(None, "test.event", "test", 2, serde_json::json!({"n": 2}));
                tx.commit().await?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(store.on_writer(size).await.unwrap(), 1);
        let head = store.log_heads().await.unwrap().remove(0);
        assert_eq!(head.size, 2, "both entries in the installation's log");
        store.close().await;
    }
}
