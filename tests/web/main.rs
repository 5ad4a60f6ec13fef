//! Web suite: each test starts the real application on a free loopback
//! port over a fresh SQLite database and drives it over HTTP; the browser
//! tests drive headless Chromium through chromedriver.

mod access;
mod api;
mod browser;
mod departements;
mod forms;
mod login;
mod paging;
mod request_ids;
mod support;
mod tokens;
mod two_servers;
