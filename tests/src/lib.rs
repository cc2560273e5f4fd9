//! Shared helpers for the cospec test suite.
