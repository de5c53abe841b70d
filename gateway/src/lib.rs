//! The signgate gateway: the only crate that does I/O or reads the clock.
