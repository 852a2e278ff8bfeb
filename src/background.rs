//! Background work on a thread of its own, at a lower CPU priority than the API.
//!
//! A webhook backlog is work that may finish later; an API request is someone waiting. When
//! both want the CPU, the kernel then gives each API thread about ten times the backlog's
//! share (at nice 10), instead of splitting the cores evenly between them. (Redis is shared
//! too: the pipeline's Redis gate, `webhooks.redis_in_flight`, bounds what it queues there.)

use std::future::Future;

use tokio::{sync::oneshot, task::JoinHandle};

/// Why the thread did not start.
#[derive(Debug, thiserror::Error)]
pub enum ThreadError<E> {
    #[error("cannot start the {0} thread: {1}")]
    Spawn(&'static str, std::io::Error),
    #[error(transparent)]
    Start(E),
}

/// Runs `start` on a new thread named `name` (with a single-threaded runtime of its own), at
/// `nice` (0-19; 0 keeps the process's priority). `start` connects what it needs there, so its
/// Redis replies and HTTP calls are handled on that thread too, and returns its tasks. Returns
/// once they run, with a handle that finishes when all of them have.
pub async fn on_own_thread<F, Fut, E>(name: &'static str, nice: u8, start: F) -> Result<JoinHandle<()>, ThreadError<E>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<JoinHandle<()>>, E>>,
    E: Send + 'static,
{
    let (started_tx, started_rx) = oneshot::channel::<Result<(), ThreadError<E>>>();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_priority(name, nice);
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started_tx.send(Err(ThreadError::Spawn(name, e)));
                    return;
                }
            };
            rt.block_on(async move {
                match start().await {
                    Ok(tasks) => {
                        let _ = started_tx.send(Ok(()));
                        for t in tasks {
                            let _ = t.await;
                        }
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(ThreadError::Start(e)));
                    }
                }
            });
            let _ = done_tx.send(());
        })
        .map_err(|e| ThreadError::Spawn(name, e))?;
    match started_rx.await {
        Ok(Ok(())) => Ok(tokio::spawn(async move {
            let _ = done_rx.await;
        })),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ThreadError::Spawn(name, std::io::Error::other("the thread ended while starting"))),
    }
}

/// Raises this thread's nice value to `nice` (never lowers it: that needs privileges). Linux
/// keeps a nice value per thread; elsewhere this does nothing. (`SYS_gettid` rather than
/// `gettid()`, which needs glibc 2.30.)
fn lower_priority(name: &str, nice: u8) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: plain syscalls on this thread's own id; errno is read right after the call.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        let (now, err) = unsafe {
            *libc::__errno_location() = 0;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            let err = *libc::__errno_location();
            (now, err)
        };
        let target = i32::from(nice.min(19));
        if err != 0 || now >= target {
            return;
        }
        // SAFETY: as above.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, target) } != 0 {
            tracing::warn!(thread = name, nice = target, error = %std::io::Error::last_os_error(), "could not lower the thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (name, nice);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// This thread's nice value, as the kernel reports it.
    fn nice_of_current_thread() -> i32 {
        // SAFETY: a read-only syscall.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t) }
    }

    #[tokio::test]
    async fn tasks_run_on_a_named_thread_at_the_given_priority_and_the_handle_waits_for_them() {
        let before = nice_of_current_thread();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let done = on_own_thread("test-bg", 7, move || async move {
            let task = tokio::spawn(async move {
                let _ = go_rx.await;
                let t = std::thread::current();
                seen_tx.send((t.name().map(str::to_string), nice_of_current_thread())).unwrap();
            });
            Ok::<_, std::convert::Infallible>(vec![task])
        })
        .await
        .unwrap();
        assert!(!done.is_finished(), "the handle finished before its task did");
        go_tx.send(()).unwrap();
        done.await.unwrap();
        let (name, nice) = seen_rx.recv().unwrap();
        assert_eq!(name.as_deref(), Some("test-bg"));
        assert_eq!(nice, before.max(7));
        assert_eq!(nice_of_current_thread(), before, "the caller's thread kept its priority");
    }

    #[tokio::test]
    async fn a_failed_start_is_returned() {
        let r = on_own_thread("test-bg-fail", 5, || async { Err::<Vec<JoinHandle<()>>, _>("no redis") }).await;
        assert!(matches!(r, Err(ThreadError::Start("no redis"))), "{:?}", r.err());
    }
}
