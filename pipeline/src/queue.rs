//! Bounded queues between stages. Batches, not events, cross threads; each edge has a
//! capacity (in batches) and an overflow policy.

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::sync::Arc;

/// What a full queue does to a new batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room: backpressure travels upstream.
    #[default]
    Block,
    /// Drop the new batch and count it.
    DropNewest,
}

impl std::str::FromStr for Overflow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "block" => Ok(Overflow::Block),
            "drop_newest" => Ok(Overflow::DropNewest),
            other => Err(format!(
                "unknown overflow policy '{other}' (expected block or drop_newest)"
            )),
        }
    }
}

/// The sending end of an edge, owned by the upstream stage.
pub struct EdgeSender<T> {
    tx: Sender<T>,
    policy: Overflow,
}

impl<T> Clone for EdgeSender<T> {
    fn clone(&self) -> Self {
        EdgeSender {
            tx: self.tx.clone(),
            policy: self.policy,
        }
    }
}

/// Why a send did not deliver.
#[derive(Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// Dropped under `drop_newest` (counted by the caller's stats).
    Dropped,
    /// The downstream stage is gone (shutdown).
    Closed,
}

impl<T> EdgeSender<T> {
    /// Sends per policy. The caller counts what was dropped.
    pub fn send(&self, batch: T) -> SendOutcome {
        match self.policy {
            Overflow::Block => match self.tx.send(batch) {
                Ok(()) => SendOutcome::Sent,
                Err(_) => SendOutcome::Closed,
            },
            Overflow::DropNewest => match self.tx.try_send(batch) {
                Ok(()) => SendOutcome::Sent,
                Err(TrySendError::Full(_)) => SendOutcome::Dropped,
                Err(TrySendError::Disconnected(_)) => SendOutcome::Closed,
            },
        }
    }
}

/// Creates an edge of `capacity` batches.
pub fn edge<T>(capacity: usize, policy: Overflow) -> (EdgeSender<T>, Receiver<T>) {
    let (tx, rx) = bounded(capacity.max(1));
    (EdgeSender { tx, policy }, rx)
}

/// A queue's depth, for the metrics: name, current depth, capacity.
pub type DepthProbe = Arc<dyn Fn() -> (usize, usize) + Send + Sync>;

/// Watches a queue through a receiver clone: a sender clone would keep the edge open and
/// stop the downstream stage from ever seeing the end of its input.
pub fn depth_probe<T: Send + 'static>(rx: &Receiver<T>) -> DepthProbe {
    let rx = rx.clone();
    Arc::new(move || (rx.len(), rx.capacity().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_newest_drops_and_block_waits() {
        let (tx, rx) = edge::<Vec<u8>>(1, Overflow::DropNewest);
        assert_eq!(tx.send(vec![1, 2]), SendOutcome::Sent);
        assert_eq!(tx.send(vec![3, 4, 5]), SendOutcome::Dropped);
        assert_eq!(rx.recv().unwrap(), vec![1, 2]);

        let (tx, rx) = edge::<Vec<u8>>(1, Overflow::Block);
        tx.send(vec![1]);
        let t = std::thread::spawn(move || tx.send(vec![2]));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(rx.recv().unwrap(), vec![1]);
        assert_eq!(t.join().unwrap(), SendOutcome::Sent);
        assert_eq!(rx.recv().unwrap(), vec![2]);
        drop(rx);
        assert_eq!("drop_newest".parse::<Overflow>(), Ok(Overflow::DropNewest));
        assert!("drop_oldest".parse::<Overflow>().is_err());
    }
}
