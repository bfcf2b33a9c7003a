//! The store and publication are synchronous (they run on blocking threads, or briefly in a
//! request handler as SQLite calls do); the clients of PostgreSQL and of object stores are
//! asynchronous or run their own runtime. These bridge the two without blocking a runtime
//! worker unannounced: on a worker of the multi-threaded runtime, `block_in_place` moves its
//! other tasks away first.

use std::future::Future;

/// Runs blocking `f`, telling the runtime if this thread is one of its workers.
pub fn sync<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Runs `future` to completion from synchronous code, on the current runtime (whose I/O
/// driver the object store's connections belong to), or on a runtime of its own outside one.
pub fn run<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => sync(|| h.block_on(future)),
        Err(_) => {
            static OWN: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
            OWN.get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime")
            })
            .block_on(future)
        }
    }
}
