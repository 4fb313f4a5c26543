//! What is left when the engine thread panics: its message, for the
//! binary to report and to exit non-zero with.
//!
//! A panic in the engine is a bug, but until it is fixed the user must not
//! be told the run went well. Front ends end when the engine's channels
//! close, and judge the run by the last snapshot, which may say "all
//! ready" although the engine died a moment later. [`Engine::join`]
//! (which every front end calls last) records the panic here, where
//! whoever started the engine and handed it to a front end can look once
//! the front end has returned.
//!
//! [`Engine::join`]: crate::engine::Engine::join

use std::any::Any;
use std::sync::{Arc, OnceLock};

/// Shared between an engine and whoever started it.
#[derive(Debug, Clone, Default)]
pub struct CrashReport(Arc<OnceLock<String>>);

impl CrashReport {
    /// The panic message, once the engine thread has panicked.
    pub fn message(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// Records the payload of a panic (the first one counts). The default
    /// panic hook has printed it by then, with a backtrace when
    /// `RUST_BACKTRACE` asks for one; this keeps the text.
    pub fn record(&self, payload: &(dyn Any + Send)) {
        let _ = self.0.set(panic_text(payload));
    }
}

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a
/// `String`; anything else is unusual).
fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_another_thread_is_recorded_with_its_message() {
        let report = CrashReport::default();
        assert_eq!(report.message(), None);
        let joined = std::thread::spawn(|| {
            let limit = std::hint::black_box(u64::MAX);
            if limit > 0 {
                panic!("overflow at {limit}");
            }
        })
        .join();
        let payload = joined.expect_err("the thread panicked");
        report.record(payload.as_ref());
        let seen = report.clone();
        assert_eq!(
            seen.message(),
            Some(format!("overflow at {}", u64::MAX).as_str())
        );
        report.record(&"a later panic");
        assert_eq!(
            seen.message(),
            Some(format!("overflow at {}", u64::MAX).as_str())
        );
    }
}
