//! Operations shared by the CLI and the web server: input checks with
//! French messages that name the field, then one storage call.

pub mod contact_query;
pub mod demo;
pub mod error;
pub mod export;
pub mod import;
pub mod json;
pub mod prefix_rows;
pub mod preview_cache;
pub mod reassign;
pub mod tokens;
pub mod users;
pub mod users_file;

pub use error::ServiceError;
