//! DKIM verification (RFC 6376, RFC 8301, RFC 8463).
//!
//! (Filled in by the DKIM issue.)
