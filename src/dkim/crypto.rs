//! The crypto backend seam: hashing, public-key decoding and signature
//! verification (and, with the `sign` feature, signing).
//!
//! Everything DKIM needs from cryptography goes through this module, so an
//! alternative backend (e.g. aws-lc-rs) can be added behind a feature without
//! touching the protocol code. The default backend is pure Rust: `sha2`,
//! `sha1` (only reachable when the legacy rsa-sha1 switch is on), `rsa` and
//! `ed25519-dalek`.
//!
//! With the `aws-lc-rs` feature, RSA public keys of 1024 to 8192 bits are
//! parsed once into an aws-lc `ParsedPublicKey` and RSA signatures are
//! verified by aws-lc (several times faster than the `rsa` crate). Keys
//! outside that range (only reachable when [`DkimConfig`] widens the limits)
//! keep using the `rsa` crate. The key-size policy is checked on the DER
//! bytes in [`rsa_public_key`], before either backend sees the key.
//! Ed25519 and SHA-256 stay on `ed25519-dalek` and `sha2` (measured: see
//! BENCHMARKS.md).
//!
//! [`DkimConfig`]: super::DkimConfig

use rsa::BigUint;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::der::Decode;
use sha2::Digest as _;

/// DER `DigestInfo` prefix for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// DER `DigestInfo` prefix for SHA-1.
const SHA1_PREFIX: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

/// rsaEncryption, 1.2.840.113549.1.1.1, DER-encoded OID body.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// A hash algorithm usable in DKIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// SHA-256 (RFC 6376 §3.3).
    Sha256,
    /// SHA-1: historic, refused by default (RFC 8301 §3.1).
    Sha1,
}

impl HashAlgorithm {
    /// The name used in `a=` and in key records' `h=`.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha1 => "sha1",
        }
    }
}

/// An incremental hash.
#[derive(Clone)]
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha1(sha1::Sha1),
}

impl Hasher {
    pub(crate) fn new(alg: HashAlgorithm) -> Self {
        match alg {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
        }
    }

    #[inline]
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Digest {
        let (bytes, len) = match self {
            Hasher::Sha256(h) => (<[u8; 32]>::from(h.finalize()), 32),
            Hasher::Sha1(h) => {
                let mut b = [0; 32];
                let f: [u8; 20] = h.finalize().into();
                if let Some(dst) = b.get_mut(..20) {
                    dst.copy_from_slice(&f);
                }
                (b, 20)
            }
        };
        Digest { bytes, len }
    }
}

/// A SHA-256 or SHA-1 digest, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digest {
    bytes: [u8; 32],
    /// 32 or 20.
    len: usize,
}

impl std::ops::Deref for Digest {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<Vec<u8>> for Digest {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

/// Why a public key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Not valid DER / not an RSA key / wrong length.
    Malformed(String),
    /// The RSA modulus has this many bits, below the minimum.
    TooSmall(usize),
    /// The RSA modulus has this many bits, above the maximum.
    TooLarge(usize),
}

/// A decoded public key.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    /// An RSA key parsed by aws-lc (1024..=8192 bits).
    #[cfg(feature = "aws-lc-rs")]
    AwsRsa(aws_lc_rs::signature::ParsedPublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// The RSA modulus size in bits (None for Ed25519).
    pub(crate) fn rsa_bits(&self) -> Option<usize> {
        use rsa::traits::PublicKeyParts;
        match self {
            PublicKey::Rsa(k) => Some(k.n().bits()),
            #[cfg(feature = "aws-lc-rs")]
            PublicKey::AwsRsa(k) => aws_rsa_bits(k.as_ref()),
            PublicKey::Ed25519(_) => None,
        }
    }
}

/// Modulus bits of an RSA key given as SPKI or PKCS#1 DER.
#[cfg(feature = "aws-lc-rs")]
fn aws_rsa_bits(der: &[u8]) -> Option<usize> {
    let pkcs1 = match rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der) {
        Ok(spki) => spki.subject_public_key.as_bytes()?,
        Err(_) => der,
    };
    rsa::pkcs1::RsaPublicKey::from_der(pkcs1)
        .ok()
        .map(|pk| bit_len(pk.modulus.as_bytes()))
}

/// Number of significant bits in a big-endian unsigned integer.
fn bit_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() && bytes[i] == 0 {
        i += 1;
    }
    match bytes.get(i) {
        None => 0,
        Some(&b) => (bytes.len() - i - 1) * 8 + (8 - b.leading_zeros() as usize),
    }
}

/// Decodes an RSA public key given either as SubjectPublicKeyInfo or as a
/// bare PKCS#1 `RSAPublicKey` (both occur in DKIM key records). The modulus
/// size is checked against `min_bits..=max_bits` on the DER bytes, before
/// any big-number arithmetic.
pub(crate) fn rsa_public_key(
    der: &[u8],
    min_bits: usize,
    max_bits: usize,
) -> Result<PublicKey, KeyError> {
    let pkcs1_der: &[u8] = match rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der) {
        Ok(spki) => {
            if spki.algorithm.oid.to_string() != RSA_ENCRYPTION_OID {
                return Err(KeyError::Malformed("not an RSA key".into()));
            }
            spki.subject_public_key
                .as_bytes()
                .ok_or_else(|| KeyError::Malformed("unaligned key bit string".into()))?
        }
        Err(_) => der,
    };
    let pk = rsa::pkcs1::RsaPublicKey::from_der(pkcs1_der)
        .map_err(|e| KeyError::Malformed(format!("not an RSA public key: {e}")))?;
    let n = pk.modulus.as_bytes();
    let bits = bit_len(n);
    if bits > max_bits {
        return Err(KeyError::TooLarge(bits));
    }
    if bits < min_bits {
        return Err(KeyError::TooSmall(bits));
    }
    let e = pk.public_exponent.as_bytes();
    if bit_len(e) > 64 {
        return Err(KeyError::Malformed("public exponent too large".into()));
    }
    #[cfg(feature = "aws-lc-rs")]
    if (1024..=8192).contains(&bits) {
        use aws_lc_rs::signature::{
            ParsedPublicKey, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        };
        return ParsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, pkcs1_der)
            .map(PublicKey::AwsRsa)
            .map_err(|e| KeyError::Malformed(format!("invalid RSA key: {e}")));
    }
    let key = rsa::RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        max_bits,
    )
    .map_err(|e| KeyError::Malformed(format!("invalid RSA key: {e}")))?;
    Ok(PublicKey::Rsa(key))
}

/// Decodes a raw 32-octet Ed25519 public key (RFC 8463 §4.2).
pub(crate) fn ed25519_public_key(raw: &[u8]) -> Result<PublicKey, KeyError> {
    let bytes: &[u8; 32] = raw
        .try_into()
        .map_err(|_| KeyError::Malformed(format!("ed25519 key is {} octets, not 32", raw.len())))?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map(PublicKey::Ed25519)
        .map_err(|_| KeyError::Malformed("invalid ed25519 point".into()))
}

fn pkcs1v15(alg: HashAlgorithm) -> Pkcs1v15Sign {
    match alg {
        HashAlgorithm::Sha256 => Pkcs1v15Sign {
            hash_len: Some(32),
            prefix: Box::new(SHA256_PREFIX),
        },
        HashAlgorithm::Sha1 => Pkcs1v15Sign {
            hash_len: Some(20),
            prefix: Box::new(SHA1_PREFIX),
        },
    }
}

/// Verifies `signature` over the header hash `digest`. For RSA this is
/// RSASSA-PKCS1-v1_5 over the digest; for Ed25519 (RFC 8463 §3) the
/// signed message is the SHA-256 digest itself (PureEdDSA over the hash).
pub(crate) fn verify(key: &PublicKey, alg: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
    match key {
        PublicKey::Rsa(key) => key.verify(pkcs1v15(alg), digest, signature).is_ok(),
        #[cfg(feature = "aws-lc-rs")]
        PublicKey::AwsRsa(key) => aws_rsa_verify(key, alg, digest, signature),
        PublicKey::Ed25519(k) => {
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                return false;
            };
            k.verify_strict(digest, &sig).is_ok()
        }
    }
}

/// RSASSA-PKCS1-v1_5 verification of a precomputed digest with aws-lc.
#[cfg(feature = "aws-lc-rs")]
fn aws_rsa_verify(
    key: &aws_lc_rs::signature::ParsedPublicKey,
    alg: HashAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> bool {
    use aws_lc_rs::digest::{Digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256};
    use aws_lc_rs::signature::{RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};
    match alg {
        HashAlgorithm::Sha256 => Digest::import_less_safe(digest, &SHA256)
            .is_ok_and(|d| key.verify_digest_sig(&d, signature).is_ok()),
        // Legacy, off by default: re-parse the key for the SHA-1 variant.
        HashAlgorithm::Sha1 => Digest::import_less_safe(digest, &SHA1_FOR_LEGACY_USE_ONLY)
            .is_ok_and(|d| {
                UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, key.as_ref())
                    .verify_digest(&d, signature)
                    .is_ok()
            }),
    }
}

/// Private keys for signing.
#[cfg(feature = "sign")]
#[derive(Clone)]
pub(crate) enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

#[cfg(feature = "sign")]
impl PrivateKey {
    pub(crate) fn sign(&self, alg: HashAlgorithm, digest: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            PrivateKey::Rsa(k) => k.sign(pkcs1v15(alg), digest).map_err(|e| e.to_string()),
            PrivateKey::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                Ok(k.sign(digest).to_bytes().to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[0, 1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0, 0x7f, 0]), 15);
    }

    fn test_spki() -> Vec<u8> {
        use base64::Engine as _;
        let rec = include_str!("testdata/rsa1024.txt");
        let p = rec.split("p=").nth(1).unwrap().trim();
        base64::engine::general_purpose::STANDARD.decode(p).unwrap()
    }

    #[test]
    fn spki_and_pkcs1_forms() {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let spki_der = test_spki();
        let a = rsa_public_key(&spki_der, 1024, 8192).unwrap();
        let spki = rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(&spki_der).unwrap();
        let pkcs1 = spki.subject_public_key.as_bytes().unwrap();
        let b = rsa_public_key(pkcs1, 1024, 8192).unwrap();
        assert_eq!(a.rsa_bits(), Some(1024));
        assert_eq!(b.rsa_bits(), Some(1024));
        // Both forms verify a signature by the matching private key, with
        // whichever backend is compiled in; a changed digest fails.
        let private =
            rsa::RsaPrivateKey::from_pkcs1_pem(include_str!("testdata/rsa1024.pem")).unwrap();
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Sha1] {
            let len = if alg == HashAlgorithm::Sha256 { 32 } else { 20 };
            let digest = vec![7u8; len];
            let sig = private.sign(pkcs1v15(alg), &digest).unwrap();
            for key in [&a, &b] {
                assert!(verify(key, alg, &digest, &sig), "{alg:?}");
                assert!(!verify(key, alg, &[8u8; 32][..len], &sig), "{alg:?}");
                assert!(!verify(key, alg, &digest, &sig[1..]), "{alg:?}");
            }
        }
        assert_eq!(
            rsa_public_key(pkcs1, 2048, 8192).unwrap_err(),
            KeyError::TooSmall(1024)
        );
        assert_eq!(
            rsa_public_key(&spki_der, 512, 1000).unwrap_err(),
            KeyError::TooLarge(1024)
        );
        // An ed25519 SPKI is not an RSA key.
        let mut ed = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        ed.extend_from_slice(&[1; 32]);
        assert!(matches!(
            rsa_public_key(&ed, 1024, 8192),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn garbage_keys() {
        assert!(matches!(
            rsa_public_key(b"", 1024, 8192),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            rsa_public_key(&[0x30, 0x03, 0x02, 0x01, 0x00], 1024, 8192),
            Err(KeyError::Malformed(_))
        ));
        assert!(ed25519_public_key(&[0; 31]).is_err());
    }
}
