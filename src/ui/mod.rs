//! Rendering: the only module that knows about terminals.

pub mod reporter;
