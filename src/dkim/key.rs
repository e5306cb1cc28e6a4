//! DKIM key records (RFC 6376 §3.6.1): a pure, strict parser.
//!
//! ```
//! use sender_auth::dkim::key::{KeyRecord, KeyRecordError};
//! let k = KeyRecord::parse(b"v=DKIM1; k=ed25519; t=y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
//! assert!(k.testing);
//! assert_eq!(k.public_key.len(), 32);
//! assert_eq!(KeyRecord::parse(b"v=DKIM1; p="), Err(KeyRecordError::Revoked));
//! ```
//!
//! Rules applied:
//! * `v=`, if present, must be the first tag and exactly `DKIM1`;
//! * `k=` (default `rsa`) must be `rsa` or `ed25519`;
//! * `h=` (acceptable hashes) and `s=` (service types) are colon lists;
//!   unknown entries are ignored; `s=` must include `email` or `*`;
//! * `t=` flags: `y` (testing) and `s` (i= domain must equal d=); unknown
//!   flags are ignored;
//! * `p=` is required; empty means the key was revoked; it is base64 with
//!   folding whitespace allowed.

use std::fmt;

use base64::Engine as _;

use super::crypto::HashAlgorithm;
use super::signature::KeyType;
use crate::taglist;

/// Why a key record is unusable (each maps to `permerror`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRecordError {
    /// The tag-list is malformed (includes duplicate tags).
    TagList(taglist::TagListError),
    /// `v=` is not `DKIM1` or is not the first tag.
    Version,
    /// `k=` names an unknown key type.
    KeyType(String),
    /// `p=` is missing.
    NoPublicKey,
    /// `p=` is empty: the key was revoked (§3.6.1).
    Revoked,
    /// `p=` is not valid base64.
    Base64,
    /// `s=` does not allow email.
    Service,
}

impl fmt::Display for KeyRecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRecordError::TagList(e) => write!(f, "malformed key record: {e}"),
            KeyRecordError::Version => f.write_str("key record version is not DKIM1"),
            KeyRecordError::KeyType(k) => write!(f, "unknown key type k={k}"),
            KeyRecordError::NoPublicKey => f.write_str("key record has no p= tag"),
            KeyRecordError::Revoked => f.write_str("key revoked (empty p=)"),
            KeyRecordError::Base64 => f.write_str("p= is not valid base64"),
            KeyRecordError::Service => f.write_str("key record s= does not allow email"),
        }
    }
}

impl std::error::Error for KeyRecordError {}

/// A parsed key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `k=` (default rsa).
    pub key_type: KeyType,
    /// `h=`: hashes the key may be used with; `None` = any.
    pub hashes: Option<Vec<HashAlgorithm>>,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `t=s`: the `i=` domain must be exactly `d=`.
    pub strict_identity: bool,
    /// `p=`, decoded (DER for RSA, 32 octets for Ed25519).
    pub public_key: Vec<u8>,
}

impl KeyRecord {
    /// Parses a key record (the concatenated TXT character-strings).
    pub fn parse(record: &[u8]) -> Result<KeyRecord, KeyRecordError> {
        let tags = taglist::parse(record).map_err(KeyRecordError::TagList)?;
        if let Some(pos) = tags.iter().position(|t| t.name == "v")
            && (pos != 0 || tags[0].value != b"DKIM1")
        {
            return Err(KeyRecordError::Version);
        }
        let get = |name: &str| tags.iter().find(|t| t.name == name).map(|t| t.value);
        let list = |v: &[u8]| -> Vec<Vec<u8>> {
            v.split(|&b| b == b':').map(taglist::strip_fws).collect()
        };
        let key_type = match get("k") {
            None => KeyType::Rsa,
            Some(b"rsa") => KeyType::Rsa,
            Some(b"ed25519") => KeyType::Ed25519,
            Some(k) => return Err(KeyRecordError::KeyType(String::from_utf8_lossy(k).into())),
        };
        let hashes = get("h").map(|h| {
            list(h)
                .iter()
                .filter_map(|a| match a.as_slice() {
                    b"sha256" => Some(HashAlgorithm::Sha256),
                    b"sha1" => Some(HashAlgorithm::Sha1),
                    _ => None,
                })
                .collect()
        });
        if let Some(s) = get("s")
            && !list(s).iter().any(|x| x == b"email" || x == b"*")
        {
            return Err(KeyRecordError::Service);
        }
        let flags = get("t").map(list).unwrap_or_default();
        let testing = flags.iter().any(|f| f == b"y");
        let strict_identity = flags.iter().any(|f| f == b"s");
        let p = get("p").ok_or(KeyRecordError::NoPublicKey)?;
        let p = taglist::strip_fws(p);
        if p.is_empty() {
            return Err(KeyRecordError::Revoked);
        }
        let public_key = base64::engine::general_purpose::STANDARD
            .decode(&p)
            .map_err(|_| KeyRecordError::Base64)?;
        Ok(KeyRecord {
            key_type,
            hashes,
            testing,
            strict_identity,
            public_key,
        })
    }

    /// True when the key's `h=` allows `alg`.
    pub fn allows_hash(&self, alg: HashAlgorithm) -> bool {
        self.hashes.as_ref().is_none_or(|h| h.contains(&alg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rules() {
        assert!(KeyRecord::parse(b"v=DKIM1; p=AAAA").is_ok());
        assert!(KeyRecord::parse(b"p=AAAA").is_ok());
        assert_eq!(
            KeyRecord::parse(b"k=rsa; v=DKIM1; p=AAAA"),
            Err(KeyRecordError::Version)
        );
        assert_eq!(
            KeyRecord::parse(b"v=DKIM2; p=AAAA"),
            Err(KeyRecordError::Version)
        );
        assert!(matches!(
            KeyRecord::parse(b"v=DKIM1:; p=AAAA"),
            Err(KeyRecordError::TagList(_)) | Err(KeyRecordError::Version)
        ));
    }

    #[test]
    fn key_types_and_hashes() {
        assert_eq!(KeyRecord::parse(b"p=AAAA").unwrap().key_type, KeyType::Rsa);
        assert_eq!(
            KeyRecord::parse(b"k=ed25519; p=AAAA").unwrap().key_type,
            KeyType::Ed25519
        );
        assert!(matches!(
            KeyRecord::parse(b"k=ed25519-sha256; p=AAAA"),
            Err(KeyRecordError::KeyType(_))
        ));
        let k = KeyRecord::parse(b"h=sha1 : foo; p=AAAA").unwrap();
        assert!(!k.allows_hash(HashAlgorithm::Sha256));
        assert!(k.allows_hash(HashAlgorithm::Sha1));
        assert!(
            KeyRecord::parse(b"p=AAAA")
                .unwrap()
                .allows_hash(HashAlgorithm::Sha256)
        );
    }

    #[test]
    fn service_and_flags() {
        assert!(KeyRecord::parse(b"s=email; p=AAAA").is_ok());
        assert!(KeyRecord::parse(b"s=*; p=AAAA").is_ok());
        assert_eq!(
            KeyRecord::parse(b"s=tlsrpt; p=AAAA"),
            Err(KeyRecordError::Service)
        );
        let k = KeyRecord::parse(b"t=y:s:x; p=AAAA").unwrap();
        assert!(k.testing && k.strict_identity);
    }

    #[test]
    fn public_key_rules() {
        assert_eq!(
            KeyRecord::parse(b"v=DKIM1"),
            Err(KeyRecordError::NoPublicKey)
        );
        assert_eq!(KeyRecord::parse(b""), Err(KeyRecordError::NoPublicKey));
        assert_eq!(KeyRecord::parse(b"p= \r\n "), Err(KeyRecordError::Revoked));
        assert_eq!(KeyRecord::parse(b"p=A!AA"), Err(KeyRecordError::Base64));
        assert_eq!(
            KeyRecord::parse(b"p=AA\r\n AA").unwrap().public_key,
            vec![0, 0, 0]
        );
        assert!(matches!(
            KeyRecord::parse(b"p=A; p=B"),
            Err(KeyRecordError::TagList(_))
        ));
    }
}
