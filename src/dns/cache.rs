//! TTL-honouring cache around any [`Resolver`](super::Resolver).
//!
//! (Filled in by the Foundation issue's DNS work.)
