//! Everything that talks to AWS.

pub(crate) mod attach;
pub(crate) mod bucket;
pub(crate) mod clients;
pub(crate) mod discover;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod executor;
pub(crate) mod identity;
pub(crate) mod lock;
pub(crate) mod lock_bucket;
pub(crate) mod metrics;
pub(crate) mod network;
pub(crate) mod propagation;
pub mod resources;
pub(crate) mod retry;
pub(crate) mod slots;
