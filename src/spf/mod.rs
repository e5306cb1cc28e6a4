//! SPF (RFC 7208): record parser, macro expander, `check_host`, Received-SPF.
//!
//! (Filled in by the SPF issue.)
