//! Reads a run makes once: a bucket's versioning, a task definition revision, an API found by its
//! name. The first reader of a key reads; readers of the same key at the same time wait for that
//! one read; a failed read is not kept, so the next reader tries again.

use crate::error::Result;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// The values read so far, by key.
#[derive(Debug)]
pub struct ReadOnce<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for ReadOnce<K, V> {
    fn default() -> Self {
        ReadOnce {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> ReadOnce<K, V> {
    /// The value for `key`, read with `read` unless it was read already.
    pub async fn get_or_read<F, Fut>(&self, key: K, read: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(read).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_read_per_key_and_failures_are_not_kept() {
        let memo: ReadOnce<&str, usize> = ReadOnce::default();
        let reads = AtomicUsize::new(0);
        let read = || async { Ok::<_, Error>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        let (a, b) = tokio::join!(memo.get_or_read("k", read), memo.get_or_read("k", read));
        assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
        assert_eq!(memo.get_or_read("other", read).await.unwrap(), 2);
        let failed = memo
            .get_or_read("bad", || async { Err(Error::usage("no")) })
            .await;
        assert!(failed.is_err());
        assert_eq!(memo.get_or_read("bad", read).await.unwrap(), 3);
    }
}
