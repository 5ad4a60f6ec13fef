//! Operations shared by the CLI and the web server.
