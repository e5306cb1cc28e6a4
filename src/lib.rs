//! # sender-auth
//!
//! Authenticate inbound mail the way a receiving MTA must: forward-confirmed
//! reverse DNS ([`iprev`]), SPF ([`spf`], RFC 7208), DKIM ([`dkim`], RFC 6376,
//! RFC 8301, RFC 8463), DMARC ([`dmarc`], RFC 9989 with an RFC 7489 mode) and
//! Authentication-Results ([`authres`], RFC 8601).
//!
//! Every protocol talks to DNS only through the [`dns::Resolver`] seam, every
//! verifier stands alone, and every parser is pure and total on hostile input.
//! [`authenticator::Authenticator`] runs them all for one SMTP transaction and
//! message and renders one `Authentication-Results` header.
//!
//! ```
//! use sender_auth::dns::zone::ZoneResolver;
//! use sender_auth::spf::{self, SpfConfig, SpfResult};
//!
//! let mut zone = ZoneResolver::new();
//! zone.add_txt_str("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let out = rt.block_on(spf::check_mail_from(
//!     &zone,
//!     "192.0.2.25".parse().unwrap(),
//!     "alice@example.com",
//!     "mail.example.com",
//!     &SpfConfig::default(),
//! ));
//! assert_eq!(out.result, SpfResult::Pass);
//! assert_eq!(out.mechanism(), Some("ip4:192.0.2.0/24"));
//! ```
//!
//! See the README for the CLI, the limits and their defaults, and the two
//! DMARC modes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authenticator;
pub mod authres;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod iprev;
mod keyed_hash;
pub mod message;
pub mod spf;
pub mod taglist;
mod ttlcache;

// The README's Rust examples are compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
