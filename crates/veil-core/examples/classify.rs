//! Classify labelled columns read as JSON on stdin and print veil's findings and
//! its throughput: the native half of `scripts/bench-discovery` (not a test).
//!
//! Input: `{"this_year": 2026, "repeats": 3, "columns": [{"id": "c1", "name": "email",
//! "kind": "text", "values": ["a@b.co", null]}]}`. Output: one JSON object with
//! `findings` (column id -> entities) and `best_seconds` / `values` for the best of
//! `repeats` passes over every column, on one thread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Read as _;
use std::time::Instant;

use serde::Deserialize;
use veil_core::classify::{Classifier, ValueKind};

#[derive(Deserialize)]
struct Input {
    this_year: i32,
    repeats: usize,
    columns: Vec<Col>,
}

#[derive(Deserialize)]
struct Col {
    id: String,
    name: String,
    kind: String,
    values: Vec<Option<String>>,
}

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let input: Input = serde_json::from_str(&text).unwrap();
    let classifier = Classifier::new(input.this_year);
    let columns: Vec<(&Col, ValueKind, Vec<Option<&str>>)> = input
        .columns
        .iter()
        .map(|c| {
            let kind = match c.kind.as_str() {
                "text" => ValueKind::Text,
                "number" => ValueKind::Number,
                "temporal" => ValueKind::Temporal,
                _ => ValueKind::Other,
            };
            (c, kind, c.values.iter().map(Option::as_deref).collect())
        })
        .collect();
    let values: usize = columns.iter().map(|(_, _, v)| v.len()).sum();
    let mut best = f64::INFINITY;
    let mut findings = serde_json::Map::new();
    for _ in 0..input.repeats.max(1) {
        let started = Instant::now();
        let mut found = Vec::with_capacity(columns.len());
        for (c, kind, v) in &columns {
            found.push(classifier.classify_column(&c.name, *kind, v));
        }
        best = best.min(started.elapsed().as_secs_f64());
        findings = columns
            .iter()
            .zip(found)
            .map(|((c, _, _), f)| (c.id.clone(), f.into_iter().map(|f| f.entity).collect::<Vec<_>>().into()))
            .collect();
    }
    let out = serde_json::json!({"findings": findings, "best_seconds": best, "values": values});
    println!("{out}");
}
