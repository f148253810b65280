//! Ownership: albkit reads, changes and deletes exactly what it owns, and nothing else
//! (see "What albkit owns" in docs/ownership.md). Each module makes one situation against a
//! moto server (a foreign resource under the stack's names, a same-named stack in
//! another region, drift made by hand) and checks through the AWS SDK that nothing
//! foreign changed.

mod drift;
mod edges;
mod naming;
mod s3;
