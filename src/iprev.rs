//! iprev / forward-confirmed reverse DNS (RFC 8601 §3, §2.7.3).
