//! Rendering: the only module that knows about terminals.

pub mod plot;
pub(crate) mod reporter;
pub(crate) mod screen;
