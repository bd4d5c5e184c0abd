//! Progress of a long operation (the import backfill), told to a sink: a progress bar on a terminal
//! ([`BarProgress`], indicatif), plain lines anywhere else ([`LineProgress`]: logs, CI, pipes), or a
//! record for tests ([`RecordedProgress`]).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The work began; `total` units are to be done, when known.
    Started {
        /// What is being done, e.g. `order import since 2026-06-10T00:00:00`.
        what: String,
        /// Units to do (consignments to read), when known.
        total: Option<u64>,
    },
    /// `done` units are done.
    Advanced {
        /// Units done so far.
        done: u64,
        /// Units to do, when known (it may grow while the work runs).
        total: Option<u64>,
        /// Where the work is, e.g. `PGD302 read up to 2026-06-12T10:00:00`.
        note: String,
    },
    /// The work ended.
    Finished {
        /// The outcome in one line.
        summary: String,
    },
}

/// Where progress goes.
pub trait ProgressSink: Send + Sync {
    /// Tells the sink what happened.
    fn report(&self, event: &ProgressEvent);
}

/// A bar on a terminal when stderr is one, plain lines on stderr otherwise.
pub fn for_stderr() -> Arc<dyn ProgressSink> {
    if std::io::stderr().is_terminal() {
        Arc::new(BarProgress::new(ProgressDrawTarget::stderr()))
    } else {
        Arc::new(LineProgress::new(std::io::stderr()))
    }
}

/// Plain lines, one per change: `backfill: 50/120 consignments (PGD302 read up to …)`.
#[derive(Debug)]
pub struct LineProgress<W> {
    out: Mutex<(W, Option<u64>)>,
}

impl<W: Write + Send> LineProgress<W> {
    /// Lines written to `out`.
    pub fn new(out: W) -> LineProgress<W> {
        LineProgress { out: Mutex::new((out, None)) }
    }

    /// The writer back (a test reads what was written).
    pub fn into_inner(self) -> W {
        self.out.into_inner().expect("progress lock").0
    }
}

impl<W: Write + Send> ProgressSink for LineProgress<W> {
    fn report(&self, event: &ProgressEvent) {
        let mut guard = self.out.lock().expect("progress lock");
        let (out, last) = &mut *guard;
        let line = match event {
            ProgressEvent::Started { what, total } => match total {
                Some(total) => format!("{what}: {total} consignments to read"),
                None => format!("{what}: started"),
            },
            ProgressEvent::Advanced { done, total, note } => {
                if *last == Some(*done) {
                    return;
                }
                *last = Some(*done);
                match total {
                    Some(total) => format!("  {done}/{total} consignments ({note})"),
                    None => format!("  {done} consignments ({note})"),
                }
            }
            ProgressEvent::Finished { summary } => format!("done: {summary}"),
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// An indicatif bar (a spinner when the total is unknown).
#[derive(Debug)]
pub struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    /// A bar drawn to `target`.
    pub fn new(target: ProgressDrawTarget) -> BarProgress {
        let bar = ProgressBar::with_draw_target(None, target);
        BarProgress { bar }
    }
}

impl ProgressSink for BarProgress {
    fn report(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Started { what, total } => {
                self.bar.set_prefix(what.clone());
                match total {
                    Some(total) => {
                        self.bar.set_length(*total);
                        self.bar.set_style(
                            ProgressStyle::with_template("{prefix}\n{wide_bar} {pos}/{len} consignments  {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                    }
                    None => self.bar.set_style(
                        ProgressStyle::with_template("{prefix} {spinner} {pos} consignments  {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
                }
                self.bar.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            ProgressEvent::Advanced { done, total, note } => {
                if let Some(total) = total {
                    self.bar.set_length(*total);
                }
                self.bar.set_position(*done);
                self.bar.set_message(note.clone());
            }
            ProgressEvent::Finished { summary } => self.bar.finish_with_message(summary.clone()),
        }
    }
}

/// Keeps every event, for tests.
#[derive(Debug, Default)]
pub struct RecordedProgress {
    events: Mutex<Vec<ProgressEvent>>,
}

impl RecordedProgress {
    /// The events so far.
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.events.lock().expect("progress lock").clone()
    }
}

impl ProgressSink for RecordedProgress {
    fn report(&self, event: &ProgressEvent) {
        self.events.lock().expect("progress lock").push(event.clone());
    }
}

/// Sends every event to each of several sinks.
pub struct FanOut(pub Vec<Arc<dyn ProgressSink>>);

impl ProgressSink for FanOut {
    fn report(&self, event: &ProgressEvent) {
        for sink in &self.0 {
            sink.report(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_each_change_once() {
        let lines = LineProgress::new(Vec::new());
        lines.report(&ProgressEvent::Started { what: "order import".into(), total: Some(4) });
        for done in [0, 2, 2, 4] {
            lines.report(&ProgressEvent::Advanced { done, total: Some(4), note: "PGD302".into() });
        }
        lines.report(&ProgressEvent::Finished { summary: "created 4".into() });
        let text = String::from_utf8(lines.into_inner()).unwrap();
        assert_eq!(
            text,
            "order import: 4 consignments to read\n  0/4 consignments (PGD302)\n  2/4 consignments (PGD302)\n  4/4 consignments (PGD302)\ndone: created 4\n"
        );
    }

    #[test]
    fn a_hidden_bar_follows_the_events() {
        let bar = BarProgress::new(ProgressDrawTarget::hidden());
        bar.report(&ProgressEvent::Started { what: "x".into(), total: Some(10) });
        bar.report(&ProgressEvent::Advanced { done: 7, total: Some(10), note: "n".into() });
        assert_eq!(bar.bar.position(), 7);
        assert_eq!(bar.bar.length(), Some(10));
        bar.report(&ProgressEvent::Finished { summary: "ok".into() });
        assert!(bar.bar.is_finished());
    }
}
