//! The one way a command waits on the mesh: it looks again every so often, with a progress line
//! saying what it waits for, until a look says done, a look fails, or the time is up.

use std::time::Duration;

use tokio::time::Instant;

use super::Failure;
use super::printer::Printer;

/// What one look found.
pub enum Look<T> {
    /// Done: the wait returns this.
    Done(T),
    /// Not yet: what the progress line says, and what a timeout reports as still awaited.
    Waiting { progress: String, left: String },
}

/// Looks every `period`, starting with `what` on the progress line, until `look` is done or
/// fails; past `timeout`, fails as `late` says, given what the last look still awaited.
pub async fn until<T>(
    printer: &Printer,
    what: &str,
    (timeout, period): (Duration, Duration),
    mut look: impl AsyncFnMut() -> Result<Look<T>, Failure>,
    late: impl FnOnce(&str) -> Failure,
) -> Result<T, Failure> {
    let progress = printer.progress(what);
    let deadline = Instant::now() + timeout;
    loop {
        let left = match look().await {
            Ok(Look::Done(done)) => {
                progress.finish();
                return Ok(done);
            }
            Err(failure) => {
                progress.finish();
                return Err(failure);
            }
            Ok(Look::Waiting { progress: line, left }) => {
                progress.set(&line);
                left
            }
        };
        if Instant::now() >= deadline {
            progress.finish();
            return Err(late(&left));
        }
        tokio::time::sleep(period).await;
    }
}
