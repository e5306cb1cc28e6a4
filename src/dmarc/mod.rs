//! DMARC (RFC 9989, with an RFC 7489 mode).
//!
//! (Filled in by the DMARC issue.)
