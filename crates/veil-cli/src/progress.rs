//! Progress of long commands (apply, verify, monitor, discover, bench) on stderr.
//!
//! On a terminal: a bar (indicatif) redrawn in place. Anywhere else (a CI log, a
//! file, a pipe): plain lines, each ending in `\n` and never holding a `\r`, at
//! most one per [`LINE_EVERY`] plus the first and the last, e.g.
//!
//! ```text
//! verify: 0/5424 probes
//! verify: 2310/5424 probes (42%) after 2.0s
//! verify: 5424/5424 probes (100%) in 4.1s
//! ```
//!
//! `VEIL_PROGRESS=off` silences both; `VEIL_PROGRESS=lines` asks for lines on a
//! terminal too.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often plain lines are written, at most (the first and last always are).
pub const LINE_EVERY: Duration = Duration::from_secs(2);

/// Progress of one step of a command: `done` of `total` units.
pub struct Progress {
    mode: Mode,
}

enum Mode {
    Bar(ProgressBar),
    Lines(Mutex<Lines>),
    Off,
}

struct Lines {
    out: Box<dyn Write + Send>,
    what: String,
    unit: String,
    total: u64,
    done: u64,
    every: Duration,
    started: Instant,
    last: Instant,
}

impl Lines {
    fn write(&mut self, last: bool) {
        let percent = self.done.saturating_mul(100).checked_div(self.total).unwrap_or(100);
        let elapsed = self.started.elapsed().as_secs_f64();
        let when = if last { format!(" in {elapsed:.1}s") } else { format!(" after {elapsed:.1}s") };
        let line = if self.done == 0 && !last {
            format!("{}: 0/{} {}\n", self.what, self.total, self.unit)
        } else {
            format!("{}: {}/{} {} ({percent}%){when}\n", self.what, self.done, self.total, self.unit)
        };
        // Progress is a courtesy: a closed stderr must not fail the command.
        let _ = self.out.write_all(line.as_bytes()).and_then(|()| self.out.flush());
        self.last = Instant::now();
    }
}

impl Progress {
    /// Progress of `what` (e.g. `verify`) over `total` `unit`s (e.g. `probes`),
    /// drawn as a bar on a terminal and as lines elsewhere (see the module doc).
    pub fn start(what: &str, unit: &str, total: u64) -> Self {
        let setting = std::env::var("VEIL_PROGRESS").unwrap_or_default();
        match setting.as_str() {
            "off" | "0" | "no" => Self { mode: Mode::Off },
            "lines" => Self::lines(what, unit, total, Box::new(std::io::stderr()), LINE_EVERY),
            _ if std::io::stderr().is_terminal() => Self::bar(what, unit, total),
            _ => Self::lines(what, unit, total, Box::new(std::io::stderr()), LINE_EVERY),
        }
    }

    /// Plain lines to `out`, at most one per `every` (plus the first and the last).
    pub fn lines(what: &str, unit: &str, total: u64, out: Box<dyn Write + Send>, every: Duration) -> Self {
        let now = Instant::now();
        let mut lines =
            Lines { out, what: what.into(), unit: unit.into(), total, done: 0, every, started: now, last: now };
        lines.write(false);
        Self { mode: Mode::Lines(Mutex::new(lines)) }
    }

    fn bar(what: &str, unit: &str, total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = format!("{what}: {{bar:32}} {{pos}}/{{len}} {unit} ({{percent}}%) {{elapsed}}, {{eta}} left");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { mode: Mode::Bar(bar) }
    }

    /// Progress that shows nothing (for library callers that print their own).
    pub fn hidden() -> Self {
        Self { mode: Mode::Off }
    }

    /// `n` more units done.
    pub fn advance(&self, n: u64) {
        match &self.mode {
            Mode::Bar(bar) => bar.inc(n),
            Mode::Lines(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.done = l.done.saturating_add(n).min(l.total);
                    if l.last.elapsed() >= l.every && l.done < l.total {
                        l.write(false);
                    }
                }
            }
            Mode::Off => {}
        }
    }

    /// `done` units done in all (never fewer than before).
    pub fn set_done(&self, done: u64) {
        match &self.mode {
            Mode::Bar(bar) => bar.set_position(done),
            Mode::Lines(lines) => {
                let delta = lines.lock().map(|l| done.saturating_sub(l.done)).unwrap_or(0);
                self.advance(delta);
            }
            Mode::Off => {}
        }
    }

    /// The total changed (a step found more or less work than announced).
    pub fn set_total(&self, total: u64) {
        match &self.mode {
            Mode::Bar(bar) => bar.set_length(total),
            Mode::Lines(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.total = total;
                }
            }
            Mode::Off => {}
        }
    }

    /// The step is over: the bar is cleared, the last line written.
    pub fn finish(self) {
        match &self.mode {
            Mode::Bar(bar) => bar.finish_and_clear(),
            Mode::Lines(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.write(true);
                }
            }
            Mode::Off => {}
        }
    }
}

/// A `(done, total)` callback showing the progress of `what`: it starts at the
/// first call and finishes when `done` reaches `total`, so a library step that
/// reports counts needs no knowledge of terminals.
pub fn reporter(what: &str, unit: &str) -> impl FnMut(usize, usize) {
    let (what, unit) = (what.to_string(), unit.to_string());
    let mut current: Option<Progress> = None;
    move |done, total| {
        let p = current.get_or_insert_with(|| Progress::start(&what, &unit, total as u64));
        p.set_total(total as u64);
        p.set_done(done as u64);
        if done >= total {
            if let Some(p) = current.take() {
                p.finish();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(shared: &Shared) -> String {
        String::from_utf8(shared.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn lines_are_whole_lines_without_carriage_returns() {
        let out = Shared::default();
        let p = Progress::lines("verify", "probes", 10, Box::new(out.clone()), Duration::ZERO);
        for _ in 0..10 {
            p.advance(1);
        }
        p.finish();
        let text = text(&out);
        assert!(!text.contains('\r'), "{text:?}");
        assert!(text.ends_with('\n'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"verify: 0/10 probes"));
        // One line per step while not done (interval zero), then the last one.
        assert_eq!(lines.len(), 1 + 9 + 1, "{text}");
        assert!(lines.iter().all(|l| l.starts_with("verify: ")), "{text}");
        assert!(lines.last().unwrap().starts_with("verify: 10/10 probes (100%) in "), "{text}");
    }

    #[test]
    fn lines_are_rate_limited() {
        let out = Shared::default();
        let p = Progress::lines("apply", "statements", 1_000, Box::new(out.clone()), Duration::from_secs(3600));
        for _ in 0..1_000 {
            p.advance(1);
        }
        p.finish();
        let text = text(&out);
        assert_eq!(text.lines().count(), 2, "only the first and last line within the interval: {text}");
    }

    #[test]
    fn done_never_exceeds_total_and_total_can_change() {
        let out = Shared::default();
        let p = Progress::lines("monitor", "sources", 2, Box::new(out.clone()), Duration::from_secs(3600));
        p.advance(5);
        p.set_total(4);
        p.finish();
        let text = text(&out);
        assert!(text.lines().last().unwrap().starts_with("monitor: 2/4 sources (50%)"), "{text}");
    }
}
