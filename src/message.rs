//! Raw header access without copying; RFC 5322 From: extraction.
//!
//! (Filled in by the DMARC issue.)
