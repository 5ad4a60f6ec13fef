//! Domain rules of Relais: users, contacts, owners, batches and history.
//! Nothing in this module performs I/O.

pub mod batch;
pub mod contact;
pub mod country;
pub mod history;
pub mod postal;
pub mod search;
pub mod user;
