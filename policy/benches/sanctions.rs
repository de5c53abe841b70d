//! Sanctions benches (filled in below).
fn main() {}
