//! End-to-end tests live under `tests/`; this library is empty on purpose.

#![warn(missing_docs, unreachable_pub)]
