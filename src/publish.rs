//! Publishing on a tokio `watch` channel only what changed: every send wakes every receiver,
//! and the controller's loop runs a pass for each wake.

use tokio::sync::watch;

pub trait SendChanged<T> {
    /// Sends `value` if it differs from what the channel holds; whether it did.
    fn send_changed(&self, value: T) -> bool;
}

impl<T: PartialEq> SendChanged<T> for watch::Sender<T> {
    fn send_changed(&self, value: T) -> bool {
        self.send_if_modified(|held| {
            let changed = *held != value;
            if changed {
                *held = value;
            }
            changed
        })
    }
}
