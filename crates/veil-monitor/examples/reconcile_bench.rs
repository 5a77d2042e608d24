//! Time `diff` and `reconcile` on generated snapshots: N tables of 10 columns,
//! 10 of them changed (a new column each).
//!
//! `cargo run --release -p veil-monitor --example reconcile_bench -- 10000`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::time::Instant;

use veil_monitor::{diff, reconcile, Kind, LiveColumn, Snapshot};

fn live(n: usize, changed: usize) -> Snapshot {
    let step = (n / changed.max(1)).max(1);
    let mut rows = Vec::with_capacity(n * 11);
    for t in 0..n {
        let extra = changed > 0 && t % step == 0 && t / step < changed;
        for c in 0..(if extra { 11 } else { 10 }) {
            rows.push(LiveColumn {
                schema: "main".into(),
                table: format!("t{t}"),
                kind: Kind::Table,
                fingerprint: None,
                column: format!("c{c}"),
                data_type: if c % 2 == 0 { "VARCHAR".into() } else { "INTEGER".into() },
            });
        }
    }
    Snapshot::from_live(rows, "bench")
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let before = live(n, 0);
    let mut declared = before.clone();
    declared.tags_known = true;
    for s in declared.sources.values_mut() {
        s.tags.push("Generated".into());
        s.columns[1].tags.push("PII.Email".into());
    }
    // As `veil apply` leaves it: every source bound.
    let views = before.sources.keys().map(|n| (n.clone(), n.replace('.', "_"))).collect();
    let previous = veil_monitor::baseline(&before, &declared, &views);
    let after = live(n, 10);
    let best = |f: &dyn Fn() -> usize| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let k = f();
                (t.elapsed(), k)
            })
            .min()
            .unwrap()
    };
    let (d, k) = best(&|| diff(&previous, &reconcile(&previous, &after, &declared).snapshot).changes.len());
    let (r, rebind) = best(&|| reconcile(&previous, &after, &declared).rebind.len());
    let (q, none) = best(&|| reconcile(&previous, &before, &declared).rebind.len());
    println!("{n} tables x 10 columns: reconcile, 10 changed: {r:?} ({rebind} to rebind); no change: {q:?} ({none}); reconcile + diff: {d:?} ({k} changes)");
}
