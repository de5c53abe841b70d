//! signgate's decision logic: pure, synchronous, no I/O and no clock (`now` is an input).
