//! Progress: a bar on a terminal, a line every few seconds otherwise, nothing with `--quiet`.

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a run without a terminal logs where it is.
const EVERY: Duration = Duration::from_secs(5);

pub enum Progress {
    Bar(ProgressBar),
    Lines { total: u64, done: u64, started: Instant, last: Instant },
    Quiet,
}

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Self {
        if quiet {
            return Self::Quiet;
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} rows  {per_sec}  {msg}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            return Self::Bar(bar);
        }
        let now = Instant::now();
        Self::Lines { total, done: 0, started: now, last: now }
    }

    /// One more row has its result; `(accepted, refused)` so far.
    pub fn row(&mut self, (accepted, refused): (u64, u64)) {
        match self {
            Self::Bar(bar) => {
                bar.inc(1);
                bar.set_message(format!("accepted {accepted}, refused {refused}"));
            }
            Self::Lines { total, done, started, last } => {
                *done += 1;
                if last.elapsed() >= EVERY {
                    *last = Instant::now();
                    let rate = *done as f64 / started.elapsed().as_secs_f64().max(0.001);
                    eprintln!("{done}/{total} rows, {rate:.0} rows/s, accepted {accepted}, refused {refused}");
                }
            }
            Self::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish();
        }
    }

    pub fn abandon(&self) {
        if let Self::Bar(bar) = self {
            bar.abandon();
        }
    }
}
