//! # sender-auth
//!
//! Authenticate inbound mail the way a receiving MTA must: forward-confirmed
//! reverse DNS ([`iprev`]), SPF ([`spf`], RFC 7208), DKIM ([`dkim`], RFC 6376,
//! RFC 8301, RFC 8463), DMARC ([`dmarc`], RFC 9989 with an RFC 7489 mode) and
//! Authentication-Results ([`authres`], RFC 8601).
//!
//! Every protocol talks to DNS only through the [`dns::Resolver`] seam, every
//! verifier stands alone, and every parser is pure and total on hostile input.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authenticator;
pub mod authres;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod iprev;
pub mod message;
pub mod spf;
pub mod taglist;
