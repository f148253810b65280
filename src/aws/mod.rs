//! Everything that talks to AWS.

pub mod bucket;
pub mod clients;
pub mod discover;
pub mod error;
pub mod events;
pub mod executor;
pub mod identity;
pub mod lock;
pub mod lock_bucket;
pub mod network;
pub mod resources;
pub mod retry;
