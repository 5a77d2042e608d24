//! Entitlement matrix bench (placeholder until the generator lands).
fn main() {}
