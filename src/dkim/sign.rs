//! A DKIM signer (feature `sign`): rsa-sha256 and ed25519-sha256, any
//! canonicalization, a choice of signed header fields and oversigning.
//!
//! ```
//! use sender_auth::dkim::{Signer, SigningKey, HeaderCanon, BodyCanon};
//! let key = SigningKey::ed25519_from_seed(&[7; 32]);
//! let record = key.public_key_record(); // publish at sel._domainkey.example.com
//! assert!(record.starts_with("v=DKIM1; k=ed25519; p="));
//! let signer = Signer::new(key, "example.com", "sel")
//!     .canonicalization(HeaderCanon::Relaxed, BodyCanon::Simple)
//!     .timestamp(1_700_000_000);
//! let signed = signer.sign_message(b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n").unwrap();
//! assert!(signed.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple;"));
//! ```

use std::fmt;

use base64::Engine as _;

use super::canon::{BodyCanon, HeaderCanon};
use super::crypto::PrivateKey;
use super::signature::Algorithm;
use super::verify::{SigParams, body_hashes, header_hash, line_endings};
use crate::dkim::LineEndings;
use crate::message::Message;

/// Why signing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    /// The private key could not be read.
    Key(String),
    /// The message has no From field (RFC 6376 §5.4: From must be signed).
    NoFrom,
    /// The domain, selector or identity is not valid.
    Invalid(String),
    /// The crypto backend failed.
    Crypto(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Key(e) => write!(f, "invalid private key: {e}"),
            SignError::NoFrom => f.write_str("message has no From field"),
            SignError::Invalid(e) => write!(f, "invalid signer parameter: {e}"),
            SignError::Crypto(e) => write!(f, "signing failed: {e}"),
        }
    }
}

impl std::error::Error for SignError {}

/// A private signing key.
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.algorithm().as_str())
    }
}

impl SigningKey {
    /// An RSA key from PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`). Signs with rsa-sha256.
    pub fn rsa_from_pem(pem: &str) -> Result<Self, SignError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| SignError::Key(e.to_string()))?;
        Ok(Self::rsa(key))
    }

    /// An RSA key. Signs with rsa-sha256. (Not public: keeps the crypto
    /// backend's types out of the API.)
    fn rsa(key: rsa::RsaPrivateKey) -> Self {
        SigningKey {
            key: PrivateKey::Rsa(Box::new(key)),
        }
    }

    /// An Ed25519 key from its 32-octet seed (RFC 8032 secret key).
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        SigningKey {
            key: PrivateKey::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(seed))),
        }
    }

    /// An Ed25519 key from its base64-encoded 32-octet seed.
    pub fn ed25519_from_base64(seed: &str) -> Result<Self, SignError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(seed.trim())
            .map_err(|e| SignError::Key(e.to_string()))?;
        let seed: [u8; 32] = raw
            .try_into()
            .map_err(|_| SignError::Key("ed25519 seed is not 32 octets".into()))?;
        Ok(Self::ed25519_from_seed(&seed))
    }

    /// The signature algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            PrivateKey::Rsa(_) => Algorithm::RsaSha256,
            PrivateKey::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The DNS key record to publish: `v=DKIM1; k=…; p=…` (RSA keys as
    /// SubjectPublicKeyInfo).
    pub fn public_key_record(&self) -> String {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        match &self.key {
            PrivateKey::Rsa(k) => {
                use rsa::pkcs8::EncodePublicKey;
                let der = k
                    .to_public_key()
                    .to_public_key_der()
                    .map(|d| d.as_bytes().to_vec())
                    .unwrap_or_default();
                format!("v=DKIM1; k=rsa; p={}", b64(&der))
            }
            PrivateKey::Ed25519(k) => {
                format!(
                    "v=DKIM1; k=ed25519; p={}",
                    b64(k.verifying_key().as_bytes())
                )
            }
        }
    }
}

/// Header fields signed by default (RFC 6376 §5.4.1 recommendations).
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Fields added by later hops: signing them is possible, oversigning them
/// would break this signature as soon as the next hop adds its own.
fn is_trace(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    matches!(
        l.as_str(),
        "dkim-signature" | "received" | "authentication-results" | "return-path"
    ) || l.starts_with("arc-")
}

/// Signs messages. Built with [`Signer::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    domain: String,
    selector: String,
    headers: Vec<String>,
    oversign: bool,
    header_canon: HeaderCanon,
    body_canon: BodyCanon,
    identity: Option<String>,
    body_length: bool,
    timestamp: Option<u64>,
    expiration: Option<u64>,
    /// Test-only: sign RSA with the historic rsa-sha1.
    sha1: bool,
}

impl Signer {
    /// A signer for `d=domain`, `s=selector`, with relaxed/relaxed
    /// canonicalization, [`DEFAULT_HEADERS`] and oversigning on.
    pub fn new(key: SigningKey, domain: impl Into<String>, selector: impl Into<String>) -> Self {
        Signer {
            key,
            domain: domain.into(),
            selector: selector.into(),
            headers: DEFAULT_HEADERS.iter().map(|s| s.to_string()).collect(),
            oversign: true,
            header_canon: HeaderCanon::Relaxed,
            body_canon: BodyCanon::Relaxed,
            identity: None,
            body_length: false,
            timestamp: None,
            expiration: None,
            sha1: false,
        }
    }

    /// The header field names to sign. Each is listed in `h=` once per
    /// instance present in the message (plus once more when oversigning);
    /// From is always signed.
    pub fn headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.headers = names.into_iter().map(Into::into).collect();
        self
    }

    /// Oversigning (default on): list every signed name once more than it
    /// occurs, so that adding another instance breaks the signature.
    /// Fields that later hops legitimately add above (DKIM-Signature,
    /// ARC-*, Received, Authentication-Results) are never oversigned.
    pub fn oversign(mut self, on: bool) -> Self {
        self.oversign = on;
        self
    }

    /// The `c=` algorithms.
    pub fn canonicalization(mut self, header: HeaderCanon, body: BodyCanon) -> Self {
        self.header_canon = header;
        self.body_canon = body;
        self
    }

    /// The `i=` tag (must be in `d=` or a subdomain).
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }

    /// Add `l=` with the canonicalized body length.
    pub fn body_length(mut self, on: bool) -> Self {
        self.body_length = on;
        self
    }

    /// The `t=` tag.
    pub fn timestamp(mut self, t: u64) -> Self {
        self.timestamp = Some(t);
        self
    }

    /// The `x=` tag.
    pub fn expiration(mut self, x: u64) -> Self {
        self.expiration = Some(x);
        self
    }

    /// Signs `message` and returns the DKIM-Signature field to prepend,
    /// ending with a line ending. Lines end in CRLF, or in LF when the
    /// message has no CR at all (the verifier reads such a message with
    /// LF as CRLF, see [`crate::dkim`]).
    pub fn sign(&self, message: &[u8]) -> Result<String, SignError> {
        let endings = line_endings(message, None);
        let nl = match endings {
            LineEndings::Crlf => "\r\n",
            LineEndings::BareLfAsCrlf => "\n",
        };
        for (what, v) in [("d", &self.domain), ("s", &self.selector)] {
            if super::signature::domain_to_ascii(v.as_bytes(), 1).is_none() {
                return Err(SignError::Invalid(format!("{what}={v}")));
            }
        }
        let msg = Message::parse(message);
        let headers = msg.headers();
        if !headers.iter().any(|h| h.has_colon && h.is("From")) {
            return Err(SignError::NoFrom);
        }
        let mut names: Vec<String> = Vec::new();
        let mut wanted = self.headers.clone();
        if !wanted.iter().any(|h| h.eq_ignore_ascii_case("from")) {
            wanted.insert(0, "From".into());
        }
        for name in &wanted {
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                continue;
            }
            let count = headers.iter().filter(|h| h.has_colon && h.is(name)).count();
            let n = count + usize::from(self.oversign && !is_trace(name));
            for _ in 0..n {
                names.push(name.clone());
            }
        }
        let alg = match self.key.algorithm() {
            Algorithm::RsaSha256 if self.sha1 => Algorithm::RsaSha1,
            a => a,
        };
        let hash = alg.hash();
        let bodies = body_hashes(msg.body(), endings, &[(hash, self.body_canon, None)]);
        let (bh, total) = bodies
            .into_iter()
            .map(|(_, v)| v)
            .next()
            .ok_or_else(|| SignError::Crypto("no body hash".into()))?;
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let mut field = format!(
            "DKIM-Signature: v=1; a={}; c={}/{}; d={}; s={};",
            alg.as_str(),
            self.header_canon.as_str(),
            self.body_canon.as_str(),
            self.domain,
            self.selector
        );
        let mut line = String::new();
        if let Some(t) = self.timestamp {
            line.push_str(&format!(" t={t};"));
        }
        if let Some(x) = self.expiration {
            line.push_str(&format!(" x={x};"));
        }
        if let Some(i) = &self.identity {
            line.push_str(&format!(" i={i};"));
        }
        if self.body_length {
            line.push_str(&format!(" l={total};"));
        }
        if !line.is_empty() {
            field.push_str(nl);
            field.push('\t');
            field.push_str(line.trim_start());
        }
        field.push_str(nl);
        field.push_str("\th=");
        field.push_str(&names.join(":"));
        field.push(';');
        field.push_str(nl);
        field.push_str("\tbh=");
        field.push_str(&b64(&bh));
        field.push(';');
        field.push_str(nl);
        field.push_str("\tb=");
        // Check what we produce parses as the verifier will read it.
        let value = field.split_once(':').map(|(_, v)| v).unwrap_or("");
        let probe = format!("{value}AAAA");
        super::signature::Signature::parse(probe.as_bytes())
            .map_err(|e| SignError::Invalid(e.to_string()))?;
        let params = SigParams {
            signed_headers: names.iter().map(String::as_str),
            header_canon: self.header_canon,
            hash,
        };
        let stripped = super::signature::strip_b_value_cow(field.as_bytes());
        let digest = header_hash(headers, None, &stripped, &params, endings);
        let sig = self
            .key
            .key
            .sign(hash, &digest)
            .map_err(SignError::Crypto)?;
        let sig = b64(&sig);
        let mut first = true;
        for chunk in sig.as_bytes().chunks(64) {
            if !first {
                field.push_str(nl);
                field.push('\t');
            }
            first = false;
            field.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        }
        field.push_str(nl);
        Ok(field)
    }

    /// Signs `message` and returns it with the DKIM-Signature prepended.
    pub fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let field = self.sign(message)?;
        let mut out = Vec::with_capacity(field.len() + message.len());
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(message);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::{DkimConfig, DkimResult, verify};
    use crate::dns::zone::ZoneResolver;

    const RSA_PEM: &str = include_str!("testdata/rsa1024.pem");
    const RSA_RECORD: &str = include_str!("testdata/rsa1024.txt");

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn rsa_sha1_is_policy_unless_allowed() {
        let key = SigningKey::rsa_from_pem(RSA_PEM).unwrap();
        let mut signer = Signer::new(key, "example.com", "sel");
        signer.sha1 = true;
        let msg = signer
            .sign_message(b"From: a@example.com\r\n\r\nbody\r\n")
            .unwrap();
        assert!(String::from_utf8_lossy(&msg).contains("a=rsa-sha1;"));
        let mut zone = ZoneResolver::new();
        zone.add_txt_str("sel._domainkey.example.com", RSA_RECORD.trim());
        let out = run(verify(&zone, &msg, &DkimConfig::default()));
        assert_eq!(out[0].result, DkimResult::Policy);
        assert_eq!(zone.query_count(), 0, "no lookup for a refused algorithm");
        let cfg = DkimConfig {
            allow_sha1: true,
            ..DkimConfig::default()
        };
        let out = run(verify(&zone, &msg, &cfg));
        assert_eq!(out[0].result, DkimResult::Pass, "{out:?}");
        // A key restricted to sha256 refuses it.
        let mut zone = ZoneResolver::new();
        zone.add_txt_str(
            "sel._domainkey.example.com",
            &RSA_RECORD.trim().replace("k=rsa;", "k=rsa; h=sha256;"),
        );
        let out = run(verify(&zone, &msg, &cfg));
        assert_eq!(out[0].result, DkimResult::PermError);
    }
}
