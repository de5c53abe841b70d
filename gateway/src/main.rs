//! The `signgate` binary.

fn main() {}
