//! Reading contact files as French users have them.
