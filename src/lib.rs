//! Relais moves contacts between sales users: by departing user or by
//! region, previewed, atomic, written into each contact's history and
//! undoable.
//!
//! Layout: `domain` contains the rules without I/O, `reference` the embedded
//! French data, `import` the CSV reader, `storage` one interface with one
//! implementation per engine, `service` the operations shared by the CLI
//! and the web server, `cli` the command line, `web` the screens and the
//! JSON API, `french` the wording both interfaces share.

pub mod cli;
pub mod domain;
pub mod french;
pub mod import;
pub mod reference;
pub mod service;
pub mod storage;
pub mod web;
