//! Interruption: the first SIGINT or SIGTERM asks the run to stop starting new changes; changes
//! already in flight finish (or time out) and their records are written, whole. A second signal
//! ends the process at once. A closed stdout stops new changes the same way: a change whose
//! record cannot be delivered must not be made.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether no new change may start: a signal came, or stdout was closed.
#[must_use]
pub fn stopping() -> bool {
    requested() || stdout_closed()
}

/// Whether stdout was found closed.
#[must_use]
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// Say that stdout is closed: no new change starts from now on.
pub fn close_stdout() {
    STDOUT_CLOSED.store(true, Ordering::SeqCst);
}

/// Whether a signal has asked the run to stop starting new work.
#[must_use]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Take a signal as handled: a traffic shift answers it by taking the traffic back, a change
/// that must still be made (the engine would not start it while a signal is pending). A
/// further signal still ends the process at once.
pub fn handled() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Ask the run to stop (what a signal does; tests call it directly).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Listen for SIGINT and SIGTERM on the current runtime.
pub(crate) fn listen() {
    tokio::spawn(async {
        let mut count = 0;
        loop {
            wait_for_signal().await;
            count += 1;
            if count > 1 {
                crate::cli::note("interrupted again: stopping now");
                // `--output json` leaves one valid array, closed, even now.
                crate::output::close_array_now();
                // The entry point's own exit: a second signal means "now", as in every CLI.
                std::process::exit(i32::from(crate::ExitCode::Interrupted.code()));
            }
            request();
            crate::cli::note("interrupted: finishing the changes in flight, starting no new one (signal again to stop now)");
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // No signal handling: the default (terminate) stays.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
