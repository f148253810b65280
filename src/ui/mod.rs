//! Rendering: the only module that knows about terminals.

pub(crate) mod reporter;
