//! DKIM verification (RFC 6376, RFC 8301, RFC 8463) and, with the `sign`
//! feature, signing.
//!
//! [`verify`] reports every DKIM-Signature of a message, in header order
//! (top first), as one [`DkimOutput`]. It is strict:
//!
//! * signatures are parsed by [`signature::Signature::parse`] (duplicate
//!   tags, missing required tags, `h=` without From, an `i=` outside `d=`,
//!   `l=` over 76 digits or overflowing, `x=` not after `t=`, invalid `d=`/`s=`
//!   syntax: all `permerror`, and a bad name never reaches the resolver);
//! * key records by [`key::KeyRecord::parse`];
//! * RFC 8301: `rsa-sha1` signatures and RSA keys under
//!   [`DkimConfig::min_rsa_bits`] (1024) give `policy`; keys above
//!   [`DkimConfig::max_rsa_bits`] (8192) give `policy` too, decided from the
//!   DER length before any big-number arithmetic;
//! * `l=` leaving body content unsigned gives `policy` unless
//!   [`DkimConfig::allow_unsigned_body`]; `l=` larger than the body gives
//!   `permerror`;
//! * at most [`DkimConfig::max_signatures`] (10) signatures are verified;
//!   the rest are reported as [`DkimResult::NotEvaluated`];
//! * an `x=` before [`DkimConfig::now`] gives `permerror` (signature
//!   expired); a `t=` in the future is not refused (RFC 6376 §3.5 only
//!   allows verifiers to ignore such signatures, and clocks drift).
//!
//! # Policy defaults and how to change them
//!
//! | setting | default | field |
//! |---|---|---|
//! | rsa-sha1 | refused (`policy`) | [`DkimConfig::allow_sha1`] |
//! | minimum RSA modulus | 1024 bits | [`DkimConfig::min_rsa_bits`] |
//! | maximum RSA modulus | 8192 bits | [`DkimConfig::max_rsa_bits`] |
//! | unsigned body content (`l=`) | refused (`policy`) | [`DkimConfig::allow_unsigned_body`] |
//! | signatures verified per message | 10 | [`DkimConfig::max_signatures`] |
//! | clock for `x=` | system clock | [`DkimConfig::now`] |
//! | line endings | auto (see below) | [`DkimConfig::line_endings`] |
//!
//! # Performance
//!
//! The body is canonicalized while it is hashed ([`canon::BodyCanonicalizer`]
//! writes straight into the hash; no canonicalized copy exists), in one pass
//! over the body for all signatures, and one body hash is computed per
//! distinct (hash, body canonicalization, `l=`). Key lookups for all
//! signatures run concurrently, each distinct (d, s) fetched once, while
//! the body is being hashed; each distinct key is decoded once per message,
//! and with a [`KeyCache`] in [`DkimConfig::key_cache`] once for as long as
//! its DNS TTL allows (a cache hit skips the DNS query as well).
//!
//! The optional `aws-lc-rs` feature verifies RSA signatures with aws-lc,
//! about three times faster than the pure-Rust default (see BENCHMARKS.md).
//!
//! # Line endings
//!
//! A message is normally CRLF-terminated (RFC 5322); then bare CR and LF
//! are ordinary data bytes. A message that contains **no CR at all** is
//! taken to be a file with Unix line endings, and every LF is read as CRLF
//! (headers and body), so such a file verifies as the message that was
//! sent. A message that mixes CRLF and bare LF is taken as it is.
//! [`DkimConfig::line_endings`] overrides the choice.
//!
//! # Key records
//!
//! The TXT records at `<s>._domainkey.<d>` are each parsed (character-
//! strings joined). If exactly one parses as a DKIM key record it is used;
//! records that do not parse are ignored when another one does; if several
//! different records parse, the result is `permerror` (RFC 6376 §3.6.2.2
//! leaves this undefined; refusing is the conservative choice). NXDOMAIN and
//! NODATA give `permerror` ("no key"); SERVFAIL and timeouts `temperror`.
//!
//! # Example
//!
//! ```
//! use sender_auth::dkim::{verify, DkimConfig, DkimResult};
//! use sender_auth::dns::zone::ZoneResolver;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let zone = ZoneResolver::new();
//! let msg = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=From; bh=AAAA; b=AAAA\r\n\
//!             From: a@example.com\r\n\r\nhi\r\n";
//! let out = verify(&zone, msg, &DkimConfig::default()).await;
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].result, DkimResult::PermError); // no key published
//! assert_eq!(out[0].domain, "example.com");
//! # });
//! ```

use std::fmt;

pub mod canon;
pub(crate) mod crypto;
pub mod key;
pub mod keycache;
#[cfg(feature = "sign")]
pub mod sign;
pub mod signature;
mod verify;

pub use canon::{BodyCanon, HeaderCanon, LineEndings};
pub use crypto::HashAlgorithm;
pub use keycache::{KeyCache, KeyCacheStats};
#[cfg(feature = "sign")]
pub use sign::{SignError, Signer, SigningKey};
pub use signature::{Algorithm, KeyType, Signature, SignatureError};
pub use verify::{verify, verify_message};

/// The result of one DKIM signature (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DkimResult {
    /// The signature verified.
    Pass,
    /// The signature or the body hash did not verify.
    Fail,
    /// The signature could not be processed for a reason not covered by
    /// the other results.
    Neutral,
    /// The signature verified or could be checked, but local policy
    /// refuses it (rsa-sha1, weak or oversized key, unsigned content).
    Policy,
    /// A temporary failure (DNS timeout, SERVFAIL).
    TempError,
    /// A permanent error (malformed signature or key, no key, revoked key).
    PermError,
    /// Not evaluated: the message has more signatures than
    /// [`DkimConfig::max_signatures`]. Rendered as `neutral`.
    NotEvaluated,
}

impl DkimResult {
    /// The RFC 8601 result word (`NotEvaluated` renders as `neutral`).
    pub fn as_str(self) -> &'static str {
        match self {
            DkimResult::Pass => "pass",
            DkimResult::Fail => "fail",
            DkimResult::Neutral | DkimResult::NotEvaluated => "neutral",
            DkimResult::Policy => "policy",
            DkimResult::TempError => "temperror",
            DkimResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Verification settings. [`Default`] gives the RFC-based defaults listed
/// in the [module documentation](self).
///
/// Equality compares [`DkimConfig::key_cache`] by identity (the same
/// `Arc`), the other fields by value.
#[derive(Debug, Clone)]
pub struct DkimConfig {
    /// Current time in Unix seconds for `x=` checks; `None` = system clock.
    pub now: Option<u64>,
    /// Accept `rsa-sha1` signatures (legacy; RFC 8301 says no). Default false.
    pub allow_sha1: bool,
    /// Smallest RSA modulus accepted, in bits (RFC 8301 §3.2). Default 1024.
    pub min_rsa_bits: usize,
    /// Largest RSA modulus accepted, in bits, bounding CPU. Default 8192.
    pub max_rsa_bits: usize,
    /// At most this many signatures are verified, counted top-down whether
    /// or not they parse; the rest are reported as
    /// [`DkimResult::NotEvaluated`]. Default 10.
    pub max_signatures: usize,
    /// Accept signatures whose `l=` leaves body content unsigned (the
    /// output still reports [`DkimOutput::unsigned_octets`]). Default false.
    pub allow_unsigned_body: bool,
    /// How line endings are read; `None` (default) = automatic: CRLF,
    /// unless the message has no CR at all (then LF is read as CRLF).
    pub line_endings: Option<LineEndings>,
    /// A cache of decoded public keys, shared by all verifications that
    /// hold a clone of the `Arc` (see [`KeyCache`]). `None` (default):
    /// every verification queries DNS and decodes each key once.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sender_auth::dkim::{DkimConfig, KeyCache};
    /// let config = DkimConfig {
    ///     key_cache: Some(Arc::new(KeyCache::new(10_000))),
    ///     ..DkimConfig::default()
    /// };
    /// # let _ = config;
    /// ```
    pub key_cache: Option<std::sync::Arc<KeyCache>>,
}

impl PartialEq for DkimConfig {
    fn eq(&self, other: &Self) -> bool {
        let same_cache = match (&self.key_cache, &other.key_cache) {
            (None, None) => true,
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        };
        same_cache
            && self.now == other.now
            && self.allow_sha1 == other.allow_sha1
            && self.min_rsa_bits == other.min_rsa_bits
            && self.max_rsa_bits == other.max_rsa_bits
            && self.max_signatures == other.max_signatures
            && self.allow_unsigned_body == other.allow_unsigned_body
            && self.line_endings == other.line_endings
    }
}

impl Eq for DkimConfig {}

impl Default for DkimConfig {
    fn default() -> Self {
        DkimConfig {
            now: None,
            allow_sha1: false,
            min_rsa_bits: 1024,
            max_rsa_bits: 8192,
            max_signatures: 10,
            allow_unsigned_body: false,
            line_endings: None,
            key_cache: None,
        }
    }
}

/// The outcome for one DKIM-Signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimOutput {
    /// The result.
    pub result: DkimResult,
    /// Why (empty for a plain pass).
    pub reason: String,
    /// `d=` as written (empty if the signature did not parse far enough).
    pub domain: String,
    /// `d=` in lower-case A-label form (RFC 8616), for comparisons such as
    /// DMARC alignment; empty if unknown.
    pub domain_ascii: String,
    /// `s=` as written.
    pub selector: String,
    /// `i=` as written, if present.
    pub identity: Option<String>,
    /// `a=` as written.
    pub algorithm: String,
    /// `h=`, the signed header field names in order, each as written with
    /// the folding whitespace around it removed, joined by `:` (a field
    /// name cannot contain a colon), e.g. `From:To:Subject`; empty if the
    /// signature did not parse. One string rather than one per name (the
    /// output is built for every signature; [`DkimOutput::signed_header_names`]
    /// iterates over the names).
    pub signed_headers: String,
    /// The key record has `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// Canonicalized body octets beyond `l=` (not covered by the signature).
    pub unsigned_octets: u64,
    /// The first 8 characters of `b=` (for `header.b`, RFC 6008).
    pub b_prefix: String,
}

impl DkimOutput {
    /// The names in [`DkimOutput::signed_headers`], in order.
    ///
    /// ```
    /// use sender_auth::dkim::{verify, DkimConfig};
    /// use sender_auth::dns::zone::ZoneResolver;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let msg = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s;\r\n\
    ///             \th=From : To:\r\n\tSubject; bh=AAAA; b=AAAA\r\n\
    ///             From: a@example.com\r\n\r\nhi\r\n";
    /// let out = verify(&ZoneResolver::new(), msg, &DkimConfig::default()).await;
    /// assert_eq!(out[0].signed_headers, "From:To:Subject");
    /// let names: Vec<&str> = out[0].signed_header_names().collect();
    /// assert_eq!(names, ["From", "To", "Subject"]);
    /// # });
    /// ```
    pub fn signed_header_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.signed_headers.split(':').filter(|n| !n.is_empty())
    }

    /// True when this signature may be used by DMARC: it passed, covers
    /// the whole body and the key is not in testing mode.
    pub fn counts_for_dmarc(&self) -> bool {
        self.result == DkimResult::Pass && !self.testing && self.unsigned_octets == 0
    }
}

/// Renders an output as an Authentication-Results `resinfo`:
/// `dkim=pass header.d=… header.s=… header.i=… header.b=<first 8 of b=>`.
pub fn resinfo(output: &DkimOutput) -> crate::authres::ResInfo {
    let mut r = crate::authres::ResInfo::new("dkim", output.result.as_str());
    if !output.reason.is_empty() && output.result != DkimResult::Pass {
        r = r.reason(output.reason.clone());
    }
    if output.testing {
        r = r.comment("key in testing mode");
    }
    // Identifiers are echoed only when well-formed (a malformed d=/s=/i=
    // is already quoted in the reason); a U-label d= is given as A-labels.
    use crate::authres::{is_domain_name, is_identity};
    if is_domain_name(&output.domain) {
        r = r.property("header", "d", output.domain.clone());
    } else if is_domain_name(&output.domain_ascii) {
        r = r.property("header", "d", output.domain_ascii.clone());
    }
    if is_domain_name(&output.selector) {
        r = r.property("header", "s", output.selector.clone());
    }
    if let Some(i) = output.identity.as_ref().filter(|i| is_identity(i)) {
        r = r.property("header", "i", i.clone());
    }
    if !output.b_prefix.is_empty() {
        r = r.property("header", "b", output.b_prefix.clone());
    }
    r
}
