//! Behaviour suite: every rule of the service, run against each engine
//! (SQLite always; PostgreSQL when `RELAIS_TEST_POSTGRES_URL` is set).

mod atomicity;
mod cli;
mod common;
mod concurrency;
mod crash;
mod export_formulas;
mod import;
mod overseas_countries;
mod preview_counts;
mod real_data;
mod reassign_region;
mod reassign_user;
mod search;
mod tokens;
mod undo;
mod users;
