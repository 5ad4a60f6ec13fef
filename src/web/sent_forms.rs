//! Forms whose second sending must not act again, such as the API token
//! form: a double click would create two tokens, and the secret of the
//! first, shown only once, would be lost with the replaced page. Each such
//! form carries a random `submission` field. The server remembers, for an
//! hour, the submissions it has acted on and what they created.
//!
//! The memory is the server process's: a restart, or a second server
//! behind a load balancer, loses it, and a rare double sending then acts
//! twice, as without this guard.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a submission is remembered.
const REMEMBERED_FOR: Duration = Duration::from_secs(60 * 60);

/// Submissions kept at most; beyond it the oldest are forgotten first.
const MAX_REMEMBERED: usize = 10_000;

/// Outcome of a submission sent before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sending {
    /// Not seen before: the caller acts, then calls `finish` or `abandon`.
    First,
    /// The first sending is still being handled.
    InProgress,
    /// The first sending created the object with this number.
    Done(i64),
}

#[derive(Default)]
pub struct SentForms {
    sent: Mutex<HashMap<String, (Instant, Option<i64>)>>,
}

impl SentForms {
    pub fn new() -> SentForms {
        SentForms::default()
    }

    /// Records `key` as being handled, or returns what became of it.
    pub fn start(&self, key: &str) -> Sending {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        sent.retain(|_, (at, _)| now.duration_since(*at) < REMEMBERED_FOR);
        if let Some((_, created)) = sent.get(key) {
            return created.map_or(Sending::InProgress, Sending::Done);
        }
        if sent.len() >= MAX_REMEMBERED {
            let mut ages: Vec<(Instant, String)> = sent
                .iter()
                .map(|(key, (at, _))| (*at, key.clone()))
                .collect();
            ages.sort();
            for (_, key) in ages.into_iter().take(MAX_REMEMBERED / 10) {
                sent.remove(&key);
            }
        }
        sent.insert(key.to_string(), (now, None));
        Sending::First
    }

    /// Records what the first sending of `key` created.
    pub fn finish(&self, key: &str, created: i64) {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sent.insert(key.to_string(), (Instant::now(), Some(created)));
    }

    /// Removes `key`, whose sending was refused, so that the form may be
    /// corrected and sent again.
    pub fn abandon(&self, key: &str) {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sent.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_sending_gets_the_first_result() {
        let forms = SentForms::new();

        assert_eq!(forms.start("1:a"), Sending::First);
        assert_eq!(forms.start("1:a"), Sending::InProgress);
        forms.finish("1:a", 7);
        assert_eq!(forms.start("1:a"), Sending::Done(7));
        assert_eq!(forms.start("2:a"), Sending::First, "another user's key");
    }

    #[test]
    fn abandoned_sending_can_be_sent_again() {
        let forms = SentForms::new();

        forms.start("1:a");
        forms.abandon("1:a");

        assert_eq!(forms.start("1:a"), Sending::First);
    }

    #[test]
    fn oldest_sendings_forgotten_beyond_the_cap() {
        let forms = SentForms::new();
        for index in 0..MAX_REMEMBERED {
            forms.start(&format!("k{index}"));
        }

        assert_eq!(forms.start("new"), Sending::First);
        assert_eq!(
            forms.start("k0"),
            Sending::First,
            "the oldest was forgotten"
        );
        assert_eq!(
            forms.start(&format!("k{}", MAX_REMEMBERED - 1)),
            Sending::InProgress
        );
    }
}
