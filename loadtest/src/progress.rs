//! Progress on stderr for long runs: a bar with rate and ETA when the total (events or
//! time) is known, a spinner with the rate otherwise; nothing when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: ProgressBar,
    /// The bar counts seconds (only a duration is known), not events.
    timed: bool,
}

impl Progress {
    pub fn new(events: Option<u64>, duration: Option<Duration>, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
                timed: false,
            };
        }
        let (bar, template, timed) = match (events, duration) {
            (Some(n), _) => (
                ProgressBar::new(n),
                "{bar:40} {pos}/{len} events  {per_sec}  ETA {eta}",
                false,
            ),
            (None, Some(d)) => (
                ProgressBar::new(d.as_secs().max(1)),
                "{bar:40} {pos}/{len} s  {msg}  ETA {eta}",
                true,
            ),
            (None, None) => (
                ProgressBar::new_spinner(),
                "{spinner} {pos} events  {per_sec}  {elapsed}",
                false,
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress { bar, timed }
    }

    pub fn update(&self, events: u64, start: Instant) {
        if self.bar.is_hidden() {
            return;
        }
        if self.timed {
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            self.bar.set_position(start.elapsed().as_secs());
            self.bar
                .set_message(format!("{events} events, {:.0}/s", events as f64 / secs));
        } else {
            self.bar.set_position(events);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
