//! The `relais` command line.
