//! The verifier (RFC 6376 §6).

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::{join, join_all};

use super::canon::{
    BodyCanon, BodyCanonicalizer, ByteOut, LineEndings, Sink, canonicalize_header_content_to,
    canonicalize_header_to,
};
use super::crypto::{self, Digest, HashAlgorithm, Hasher, KeyError, PublicKey};
use super::key::{KeyRecord, KeyRecordError};
use super::keycache::CachedKey;
use super::signature::{Algorithm, KeyType, SigRef};
use super::{DkimConfig, DkimOutput, DkimResult};
use crate::dns::{DnsError, DnsResult, Resolver, Txt};
use crate::message::{HeaderField, Message};
use crate::taglist;

/// Chunk size for the single pass over the body.
const CHUNK: usize = 64 * 1024;

/// The key of a shared body hash: (hash, body canonicalization, l=).
type BodyKey = (HashAlgorithm, BodyCanon, Option<u64>);

/// A sink that hashes at most `limit` octets and counts them all.
pub(crate) struct BodyHasher {
    hasher: Hasher,
    limit: Option<u64>,
    total: u64,
}

impl BodyHasher {
    pub(crate) fn new(alg: HashAlgorithm, limit: Option<u64>) -> Self {
        BodyHasher {
            hasher: Hasher::new(alg),
            limit,
            total: 0,
        }
    }

    /// (digest, total canonicalized length).
    pub(crate) fn finish(self) -> (Digest, u64) {
        (self.hasher.finish(), self.total)
    }
}

impl Sink for BodyHasher {
    #[inline]
    fn write(&mut self, data: &[u8]) {
        let len = data.len() as u64;
        match self.limit {
            None => self.hasher.update(data),
            Some(limit) => {
                if self.total < limit {
                    let take = (limit - self.total).min(len);
                    // take <= data.len(), so the cast cannot truncate.
                    self.hasher.update(&data[..take as usize]);
                }
            }
        }
        self.total = self.total.saturating_add(len);
    }
}

/// The body key of a signature.
fn body_key(s: &SigRef<'_>) -> BodyKey {
    (s.algorithm.hash(), s.body_canon, s.body_length)
}

/// The distinct (hash, body canonicalization, l=) among `keys`, sorted:
/// one body hash is computed per entry and shared by all signatures that
/// need it.
pub(crate) fn distinct_body_keys(keys: impl Iterator<Item = BodyKey>) -> Vec<BodyKey> {
    let mut keys: Vec<BodyKey> = keys.collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Body hashes by key, in the order of the (sorted) keys they were
/// computed for: (digest, total canonicalized length).
pub(crate) type BodyHashes = Vec<(BodyKey, (Digest, u64))>;

/// The body hash for `key` in `bodies` (sorted by key).
fn find_body<'b>(bodies: &'b BodyHashes, key: &BodyKey) -> Option<&'b (Digest, u64)> {
    bodies
        .binary_search_by(|(k, _)| k.cmp(key))
        .ok()
        .and_then(|i| bodies.get(i))
        .map(|(_, v)| v)
}

/// Computes the canonicalized body hashes for all `keys` (sorted, as from
/// [`distinct_body_keys`]) in one pass.
pub(crate) fn body_hashes(body: &[u8], endings: LineEndings, keys: &[BodyKey]) -> BodyHashes {
    if let [key] = keys {
        // One body hash (the usual case): no vector of states.
        return vec![(*key, body_hash(body, endings, *key))];
    }
    let mut states: Vec<(BodyKey, BodyCanonicalizer, BodyHasher)> = keys
        .iter()
        .map(|&k| {
            (
                k,
                BodyCanonicalizer::new(k.1, endings),
                BodyHasher::new(k.0, k.2),
            )
        })
        .collect();
    for chunk in body.chunks(CHUNK) {
        for (_, c, h) in &mut states {
            c.update(chunk, h);
        }
    }
    states
        .into_iter()
        .map(|(k, c, mut h)| {
            c.finish(&mut h);
            (k, h.finish())
        })
        .collect()
}

/// The canonicalized body hash for one key: (digest, total canonicalized
/// length).
fn body_hash(body: &[u8], endings: LineEndings, key: BodyKey) -> (Digest, u64) {
    let mut c = BodyCanonicalizer::new(key.1, endings);
    let mut h = BodyHasher::new(key.0, key.2);
    for chunk in body.chunks(CHUNK) {
        c.update(chunk, &mut h);
    }
    c.finish(&mut h);
    h.finish()
}

/// Up to this many (h= name, header field) comparisons the signed fields
/// are selected by a plain scan; above it through a hash map, so the work
/// stays linear for hostile messages with many fields and long h= lists.
const LINEAR_SELECT_MAX: usize = 4096;

/// Computes the header hash (§3.7): the signed fields selected bottom-up
/// (absent instances contribute nothing), then the signature field itself,
/// `sig_field_stripped`: its content with the `b=` value already removed
/// and no final CRLF.
pub(crate) fn header_hash<'n, N: Iterator<Item = &'n str> + Clone>(
    headers: &[HeaderField<'_>],
    sig_index: Option<usize>,
    sig_field_stripped: &[u8],
    sig: &SigParams<N>,
    endings: LineEndings,
) -> Digest {
    let mut data = HashBuf::new(sig.hash);
    let candidates = headers.len();
    let n_names = sig.signed_headers.clone().count();
    if n_names.saturating_mul(candidates) <= LINEAR_SELECT_MAX {
        // Few comparisons: for each name in h=, the bottom-most unused
        // instance, found by a scan. Each field's key is computed once and
        // the scan compares keys (most names differ in length or first
        // octets), the names themselves only when the keys are equal. A
        // field that cannot be selected (no colon, the signature itself,
        // already used) has key 0, which no name has (see `name_key`). Up
        // to KEYED_MAX fields the keys live on the stack.
        let mut small = [0u64; KEYED_MAX];
        let mut big = Vec::new();
        let keys = match small.get_mut(..candidates) {
            Some(k) => k,
            None => {
                big.resize(candidates, 0);
                &mut big[..]
            }
        };
        for (i, (k, h)) in keys.iter_mut().zip(headers).enumerate() {
            *k = if h.has_colon && Some(i) != sig_index {
                name_key(h.name)
            } else {
                0
            };
        }
        for name in sig.signed_headers.clone() {
            let key = name_key(name.as_bytes());
            let mut end = keys.len();
            while let Some(i) = keys
                .get(..end)
                .and_then(|k| k.iter().rposition(|&k| k == key))
            {
                if let Some(h) = headers.get(i)
                    && h.name.eq_ignore_ascii_case(name.as_bytes())
                {
                    if let Some(k) = keys.get_mut(i) {
                        *k = 0;
                    }
                    canonicalize_header_to(sig.header_canon, endings, h.raw, &mut data);
                    break;
                }
                end = i;
            }
        }
    } else {
        // name (lower case) -> indices, top down.
        let mut by_name: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            if h.has_colon && Some(i) != sig_index {
                by_name
                    .entry(h.name.to_ascii_lowercase())
                    .or_default()
                    .push(i);
            }
        }
        for name in sig.signed_headers.clone() {
            let key = name.to_ascii_lowercase().into_bytes();
            if let Some(list) = by_name.get_mut(&key)
                && let Some(i) = list.pop()
            {
                canonicalize_header_to(sig.header_canon, endings, headers[i].raw, &mut data);
            }
        }
    }
    canonicalize_header_content_to(sig.header_canon, endings, sig_field_stripped, &mut data);
    data.finish()
}

/// Up to this many header fields, [`header_hash`] keeps the fields'
/// [`name_key`]s on the stack.
const KEYED_MAX: usize = 32;

/// A key of a field name, equal for names equal ignoring ASCII case: its
/// first eight octets with bit 5 set in each (an ASCII upper-case letter
/// and its lower-case form differ only there; other octets may collide,
/// which only costs a full comparison), the length mixed into the top.
/// Never 0 (bit 5 of the lowest octet is set), which [`header_hash`] uses
/// to mark fields that cannot be selected.
fn name_key(name: &[u8]) -> u64 {
    let w = crate::taglist::word(name.get(..8).unwrap_or(name), 0);
    (w | 0x2020_2020_2020_2020) ^ ((name.len() as u64) << 56)
}

/// Size of [`HashBuf`]'s buffer.
const HASH_BUF: usize = 512;

/// A hasher behind a small buffer: canonicalized header fields arrive a
/// few octets at a time and are hashed in blocks, without a heap copy.
struct HashBuf {
    hasher: Hasher,
    buf: [u8; HASH_BUF],
    len: usize,
}

impl HashBuf {
    fn new(alg: HashAlgorithm) -> Self {
        HashBuf {
            hasher: Hasher::new(alg),
            buf: [0; HASH_BUF],
            len: 0,
        }
    }

    fn flush(&mut self) {
        self.hasher
            .update(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }

    fn finish(mut self) -> Digest {
        self.flush();
        self.hasher.finish()
    }
}

impl ByteOut for HashBuf {
    #[inline]
    fn put_byte(&mut self, b: u8) {
        if self.len >= HASH_BUF {
            self.flush();
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    #[inline]
    fn put_lower(&mut self, data: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + data.len()) {
            dst.copy_from_slice(data);
            dst.make_ascii_lowercase();
            self.len += data.len();
        } else {
            for &b in data {
                self.put_byte(b.to_ascii_lowercase());
            }
        }
    }

    #[inline]
    fn put(&mut self, data: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + data.len()) {
            dst.copy_from_slice(data);
            self.len += data.len();
        } else {
            self.flush();
            if data.len() >= HASH_BUF {
                self.hasher.update(data);
            } else if let Some(dst) = self.buf.get_mut(..data.len()) {
                dst.copy_from_slice(data);
                self.len = data.len();
            }
        }
    }
}

/// What the header hash needs from a signature (shared with the signer).
pub(crate) struct SigParams<N> {
    /// The `h=` names, in order.
    pub(crate) signed_headers: N,
    pub(crate) header_canon: super::canon::HeaderCanon,
    pub(crate) hash: HashAlgorithm,
}

fn now(config: &DkimConfig) -> u64 {
    config.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

/// Chooses the line-ending interpretation for a message.
pub(crate) fn line_endings(message: &[u8], config: Option<LineEndings>) -> LineEndings {
    config.unwrap_or(if message.contains(&b'\r') {
        LineEndings::Crlf
    } else {
        LineEndings::BareLfAsCrlf
    })
}

/// The field content without its final line ending.
fn field_content<'a>(h: &HeaderField<'a>) -> &'a [u8] {
    h.raw
        .strip_suffix(b"\r\n")
        .or_else(|| h.raw.strip_suffix(b"\n"))
        .unwrap_or(h.raw)
}

/// An output filled with what could be read from a signature that did not
/// parse (d=, s=, ... taken best-effort from the tag-list, if any).
fn partial_output(value: &[u8], result: DkimResult, reason: String) -> DkimOutput {
    let mut out = DkimOutput {
        result,
        reason,
        domain: String::new(),
        domain_ascii: String::new(),
        selector: String::new(),
        identity: None,
        algorithm: String::new(),
        signed_headers: String::new(),
        testing: false,
        unsigned_octets: 0,
        b_prefix: String::new(),
    };
    if let Ok(tags) = taglist::parse(value) {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        for t in tags {
            match t.name {
                "d" => out.domain = text(t.value),
                "s" => out.selector = text(t.value),
                "i" => out.identity = Some(text(t.value)),
                "a" => out.algorithm = text(t.value),
                "b" => out.b_prefix = text(&taglist::strip_fws(t.value)).chars().take(8).collect(),
                _ => {}
            }
        }
    }
    out
}

fn output_for(sig: &SigRef<'_>) -> DkimOutput {
    let mut signed_headers = String::with_capacity(
        sig.signed_headers
            .iter()
            .map(|n| n.len() + 1)
            .sum::<usize>(),
    );
    for (i, n) in sig.signed_headers.iter().enumerate() {
        if i > 0 {
            signed_headers.push(':');
        }
        signed_headers.push_str(n);
    }
    let mut b_prefix = String::with_capacity(8);
    b_prefix.extend(sig.b_text().take(8));
    DkimOutput {
        result: DkimResult::Neutral,
        reason: String::new(),
        domain: String::from(sig.domain),
        domain_ascii: String::from(&*sig.domain_ascii),
        selector: String::from(sig.selector),
        identity: sig
            .identity
            .map(|i| String::from_utf8_lossy(i).into_owned()),
        algorithm: String::from(sig.algorithm.as_str()),
        signed_headers,
        testing: false,
        unsigned_octets: 0,
        b_prefix,
    }
}

/// Selects the key record from a TXT answer (see the module docs).
fn select_key(name: &str, answer: &DnsResult<Txt>) -> Result<KeyRecord, (DkimResult, String)> {
    let answer = match answer {
        Ok(a) => a,
        Err(e @ (DnsError::NxDomain | DnsError::NoData)) => {
            return Err((
                DkimResult::PermError,
                format!("no key for signature at {name} ({e})"),
            ));
        }
        Err(e @ DnsError::InvalidName(_)) => {
            return Err((DkimResult::PermError, format!("key name {name}: {e}")));
        }
        Err(e) => {
            return Err((
                DkimResult::TempError,
                format!("key lookup for {name} failed: {e}"),
            ));
        }
    };
    let parsed: Vec<Result<KeyRecord, KeyRecordError>> = answer
        .iter()
        .map(|txt| KeyRecord::parse(&txt.concat()))
        .collect();
    let mut good: Vec<&KeyRecord> = parsed.iter().filter_map(|r| r.as_ref().ok()).collect();
    good.dedup();
    match good.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let reason = match parsed.iter().find_map(|r| r.as_ref().err()) {
                Some(e) => format!("key record at {name}: {e}"),
                None => format!("no key for signature at {name}"),
            };
            Err((DkimResult::PermError, reason))
        }
        many => Err((
            DkimResult::PermError,
            format!(
                "{} different key records at {name} (ambiguous, RFC 6376 §3.6.2.2)",
                many.len()
            ),
        )),
    }
}

/// Verifies every DKIM-Signature in `message` (RFC 6376 §6).
///
/// Returns one [`DkimOutput`] per DKIM-Signature field, in header order
/// (top first); an empty vector when the message has none (`dkim=none`).
/// Never panics; work is bounded by the message size and
/// [`DkimConfig::max_signatures`].
pub async fn verify<R: Resolver + ?Sized>(
    resolver: &R,
    message: &[u8],
    config: &DkimConfig,
) -> Vec<DkimOutput> {
    verify_message(resolver, &Message::parse(message), config).await
}

/// [`verify`] for a message already split by [`Message::parse`], so a caller
/// that also needs the header fields (DMARC's From) parses it once.
pub async fn verify_message<R: Resolver + ?Sized>(
    resolver: &R,
    msg: &Message<'_>,
    config: &DkimConfig,
) -> Vec<DkimOutput> {
    let message = msg.raw();
    let endings = line_endings(message, config.line_endings);
    let headers = msg.headers();
    let now = now(config);

    // Parse and check what can be checked without DNS.
    // Sized up front: both element types are a few hundred octets, and
    // growing from the default capacity of 4 costs a large allocation.
    let fields = headers
        .iter()
        .filter(|h| h.has_colon && h.is("DKIM-Signature"))
        .count();
    let mut outputs = Vec::with_capacity(fields);
    let mut pending: Vec<Pending<'_>> = Vec::with_capacity(fields.min(config.max_signatures));
    let mut evaluated = 0usize;
    for (hi, h) in headers.iter().enumerate() {
        if !h.has_colon || !h.is("DKIM-Signature") {
            continue;
        }
        if evaluated >= config.max_signatures {
            outputs.push(partial_output(
                h.value,
                DkimResult::NotEvaluated,
                format!(
                    "not evaluated: more than {} signatures",
                    config.max_signatures
                ),
            ));
            continue;
        }
        evaluated += 1;
        let sig = match SigRef::parse(h.value) {
            Ok(s) => s,
            Err(e) => {
                outputs.push(partial_output(
                    h.value,
                    DkimResult::PermError,
                    e.to_string(),
                ));
                continue;
            }
        };
        let mut out = output_for(&sig);
        if sig.algorithm == Algorithm::RsaSha1 && !config.allow_sha1 {
            out.result = DkimResult::Policy;
            out.reason = "rsa-sha1 is not accepted (RFC 8301)".into();
            outputs.push(out);
            continue;
        }
        if let Some(x) = sig.expiration
            && x < now
        {
            out.result = DkimResult::PermError;
            out.reason = format!("signature expired (x={x})");
            outputs.push(out);
            continue;
        }
        outputs.push(out);
        pending.push(Pending {
            output: outputs.len() - 1,
            header: hi,
            key_name: sig.key_name(),
            sig,
        });
    }
    let body = msg.body();
    let p = match pending.as_slice() {
        [] => return outputs,
        [p] => p,
        _ => {
            return verify_pending(resolver, &pending, outputs, headers, endings, body, config)
                .await;
        }
    };
    // One signature (the usual case): as in `verify_pending`, its key comes
    // from the cache or is looked up while the body is hashed, but without
    // the vectors of keys and body hashes.
    let key_body = body_key(&p.sig);
    let (key, bh) = match config.key_cache.as_deref().and_then(|c| c.get(&p.key_name)) {
        Some(k) => (Ok(k), body_hash(body, endings, key_body)),
        None => {
            let hashing = async { body_hash(body, endings, key_body) };
            let (answer, bh) = join(resolver.txt(&p.key_name), hashing).await;
            (decode_key(&p.key_name, &answer, config), bh)
        }
    };
    if let Some(out) = outputs.get_mut(p.output) {
        (out.result, out.reason, out.testing, out.unsigned_octets) =
            check(&p.sig, &key, Some(&bh), headers, p.header, endings, config);
    }
    outputs
}

/// (result, reason, testing, unsigned octets) of one checked signature.
type Checked = (DkimResult, String, bool, u64);

/// The DNS part of [`verify_message`] for several signatures: each
/// distinct key looked up once, each distinct body hash computed once.
async fn verify_pending<R: Resolver + ?Sized>(
    resolver: &R,
    pending: &[Pending<'_>],
    mut outputs: Vec<DkimOutput>,
    headers: &[HeaderField<'_>],
    endings: LineEndings,
    body: &[u8],
    config: &DkimConfig,
) -> Vec<DkimOutput> {
    // Keys: from the cache, or looked up (each distinct name once,
    // concurrently) while the body hashes are computed (one pass, one hash
    // per distinct key). Each distinct key is decoded once. `keys` is
    // sorted by name (binary search, no hashing).
    // (name, key), sorted by name: one vector for both.
    let mut keys: Vec<(&str, Option<KeyOutcome>)> = pending
        .iter()
        .map(|p| (p.key_name.as_str(), None))
        .collect();
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    keys.dedup_by(|a, b| a.0 == b.0);
    let cache = config.key_cache.as_deref();
    let mut to_fetch: Vec<usize> = Vec::new();
    for (i, (n, slot)) in keys.iter_mut().enumerate() {
        match cache.and_then(|c| c.get(n)) {
            Some(k) => *slot = Some(Ok(k)),
            None => to_fetch.push(i),
        }
    }
    let body_keys = &distinct_body_keys(pending.iter().map(|p| body_key(&p.sig)));
    let bodies = if to_fetch.is_empty() {
        // Every key came from the cache: nothing to wait for.
        body_hashes(body, endings, body_keys)
    } else {
        let lookups = join_all(
            to_fetch
                .iter()
                .filter_map(|&i| keys.get(i))
                .map(|(n, _)| resolver.txt(n)),
        );
        let hashing = async { body_hashes(body, endings, body_keys) };
        let (answers, bodies) = join(lookups, hashing).await;
        for (&i, answer) in to_fetch.iter().zip(answers) {
            if let Some((name, slot)) = keys.get_mut(i) {
                *slot = Some(decode_key(name, &answer, config));
            }
        }
        bodies
    };

    for p in pending {
        let key = keys
            .binary_search_by(|(n, _)| (*n).cmp(p.key_name.as_str()))
            .ok()
            .and_then(|i| keys.get(i))
            .and_then(|(_, k)| k.as_ref());
        let (result, reason, testing, unsigned) = match key {
            None => (
                DkimResult::TempError,
                "internal: key lookup missing".to_string(),
                false,
                0,
            ),
            Some(key) => check(
                &p.sig,
                key,
                find_body(&bodies, &body_key(&p.sig)),
                headers,
                p.header,
                endings,
                config,
            ),
        };
        if let Some(out) = outputs.get_mut(p.output) {
            out.result = result;
            out.reason = reason;
            out.testing = testing;
            out.unsigned_octets = unsigned;
        }
    }
    outputs
}

/// A signature that passed the checks needing no DNS.
struct Pending<'a> {
    /// Index of its output.
    output: usize,
    /// Index of its header field.
    header: usize,
    /// `<s>._domainkey.<d>`.
    key_name: String,
    sig: SigRef<'a>,
}

/// A key ready for use, or why there is none: (result, reason) when no key
/// record was selected; the record's flags and the decoding error when the
/// key itself could not be decoded (the per-signature checks that come
/// before decoding still apply to it).
type KeyOutcome = Result<Arc<CachedKey>, KeyFailure>;

enum KeyFailure {
    NoRecord(DkimResult, String),
    Undecodable(Box<KeyRecord>, KeyError),
}

/// Selects the key record from a DNS answer and decodes its key (once);
/// a decoded key is put into the configured cache with the answer's TTL.
fn decode_key(name: &str, answer: &DnsResult<Txt>, config: &DkimConfig) -> KeyOutcome {
    let record = select_key(name, answer).map_err(|(r, reason)| KeyFailure::NoRecord(r, reason))?;
    let public = match record.key_type {
        KeyType::Rsa => {
            crypto::rsa_public_key(&record.public_key, config.min_rsa_bits, config.max_rsa_bits)
        }
        KeyType::Ed25519 => crypto::ed25519_public_key(&record.public_key),
    };
    match public {
        Ok(p) => {
            let key = Arc::new(CachedKey::new(&record, p));
            if let (Some(cache), Ok(a)) = (&config.key_cache, answer) {
                cache.insert(name, Arc::clone(&key), a.ttl);
            }
            Ok(key)
        }
        Err(e) => Err(KeyFailure::Undecodable(Box::new(record), e)),
    }
}

/// Verifies one signature whose key lookup has completed.
fn check(
    sig: &SigRef<'_>,
    key: &KeyOutcome,
    body: Option<&(Digest, u64)>,
    headers: &[HeaderField<'_>],
    hi: usize,
    endings: LineEndings,
    config: &DkimConfig,
) -> Checked {
    let (key_type, allows_hash, testing, strict_identity) = match key {
        Ok(k) => (
            k.key_type,
            k.hashes
                .as_ref()
                .is_none_or(|h| h.contains(&sig.algorithm.hash())),
            k.testing,
            k.strict_identity,
        ),
        Err(KeyFailure::NoRecord(r, reason)) => return (*r, reason.clone(), false, 0),
        Err(KeyFailure::Undecodable(rec, _)) => (
            rec.key_type,
            rec.allows_hash(sig.algorithm.hash()),
            rec.testing,
            rec.strict_identity,
        ),
    };
    let fail = |r: DkimResult, reason: String| (r, reason, testing, 0);
    if key_type != sig.algorithm.key_type() {
        return fail(
            DkimResult::PermError,
            format!("key type does not match a={}", sig.algorithm.as_str()),
        );
    }
    let hash = sig.algorithm.hash();
    if !allows_hash {
        return fail(
            DkimResult::PermError,
            format!("key h= does not allow {}", hash.as_str()),
        );
    }
    if strict_identity && sig.identity_domain() != sig.domain_ascii {
        return fail(
            DkimResult::PermError,
            "key has t=s but the i= domain differs from d=".into(),
        );
    }
    let decoded: Result<&PublicKey, KeyError> = match key {
        Ok(k) => match k.rsa_bits {
            // A cached key may have been decoded under other limits.
            Some(bits) if bits > config.max_rsa_bits => Err(KeyError::TooLarge(bits)),
            Some(bits) if bits < config.min_rsa_bits => Err(KeyError::TooSmall(bits)),
            _ => Ok(&k.public),
        },
        Err(KeyFailure::Undecodable(_, e)) => Err(e.clone()),
        Err(KeyFailure::NoRecord(..)) => {
            return fail(DkimResult::TempError, "internal: no key".into());
        }
    };
    let public: &PublicKey = match decoded {
        Ok(p) => p,
        Err(KeyError::TooSmall(bits)) => {
            return fail(
                DkimResult::Policy,
                format!(
                    "RSA key of {bits} bits is below the minimum of {} (RFC 8301)",
                    config.min_rsa_bits
                ),
            );
        }
        Err(KeyError::TooLarge(bits)) => {
            return fail(
                DkimResult::Policy,
                format!(
                    "RSA key of {bits} bits exceeds the maximum of {}",
                    config.max_rsa_bits
                ),
            );
        }
        Err(KeyError::Malformed(m)) => {
            return fail(DkimResult::PermError, format!("unusable public key: {m}"));
        }
    };
    let Some((body_hash, total)) = body else {
        return fail(DkimResult::TempError, "internal: body hash missing".into());
    };
    let mut unsigned = 0;
    if let Some(l) = sig.body_length {
        if l > *total {
            return fail(
                DkimResult::PermError,
                format!("l={l} exceeds the canonicalized body length {total}"),
            );
        }
        unsigned = total - l;
    }
    if **body_hash != *sig.body_hash {
        return fail(DkimResult::Fail, "body hash did not verify".into());
    }
    let Some(field) = headers.get(hi) else {
        return fail(DkimResult::TempError, "internal: field missing".into());
    };
    let params = SigParams {
        signed_headers: sig.signed_headers.iter().copied(),
        header_canon: sig.header_canon,
        hash,
    };
    let stripped = sig.field_without_b(field_content(field));
    let digest = header_hash(headers, Some(hi), &stripped, &params, endings);
    if !crypto::verify(public, hash, &digest, &sig.b) {
        return fail(DkimResult::Fail, "signature did not verify".into());
    }
    if unsigned > 0 && !config.allow_unsigned_body {
        return (
            DkimResult::Policy,
            format!("unsigned content: l= leaves {unsigned} body octets unsigned"),
            testing,
            unsigned,
        );
    }
    let reason = if unsigned > 0 {
        format!("{unsigned} body octets not covered by l=")
    } else {
        String::new()
    };
    (DkimResult::Pass, reason, testing, unsigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Names equal ignoring ASCII case have equal keys.
        #[test]
        fn name_key_ignores_case(
            name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
            flips in proptest::collection::vec(proptest::prelude::any::<bool>(), 20),
        ) {
            let other: Vec<u8> = name
                .iter()
                .zip(&flips)
                .map(|(&b, &f)| if f { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() })
                .collect();
            proptest::prop_assert_eq!(name_key(&name), name_key(&other));
        }
    }

    /// The header hash selects fields as a plain reading of §5.4.2 does:
    /// for each h= name in order, the bottom-most instance not yet used,
    /// names compared ignoring case; absent ones contribute nothing.
    #[test]
    fn header_selection_matches_naive() {
        let names = [
            "From",
            "FROM",
            "x-aaaaaaaa1",
            "X-AAAAAAAA2",
            "X-Aaaaaaaa1",
            "to",
            "To",
            "Cc",
            "cc",
            "Date",
            "Subject",
            "x-aaaaaaaa1",
            "Nope",
            "",
        ];
        let mut raw = String::new();
        for (i, n) in names.iter().enumerate() {
            if !n.is_empty() {
                raw.push_str(&format!("{n}: v{i}\r\n"));
            }
        }
        raw.push_str("NoColon\r\n\r\n");
        let msg = Message::parse(raw.as_bytes());
        let headers = msg.headers();
        let h_lists: [&[&str]; 4] = [
            &[
                "from",
                "x-AAAAAAAA1",
                "x-aaaaaaaa1",
                "x-aaaaaaaa1",
                "x-aaaaaaaa1",
            ],
            &[
                "From", "From", "From", "To", "to", "to", "Cc", "nocolon", "nope", "Nope",
            ],
            &[
                "x-aaaaaaaa2",
                "X-AAAAAAAA3",
                "x-aaaaaaaa",
                "subject",
                "date",
            ],
            &[
                "From",
                "To",
                "Cc",
                "Subject",
                "Date",
                "X-Aaaaaaaa1",
                "From",
                "To",
                "Cc",
            ],
        ];
        for h in h_lists {
            // (Without, and with, a field taken as the signature's own:
            // the bottom-most "From", which is then never selected.)
            for (extra, sig_from) in [(0usize, false), (40, false), (0, true), (40, true)] {
                // Above KEYED_MAX fields the keys are on the heap.
                let mut headers = headers.to_vec();
                for _ in 0..extra {
                    headers.insert(0, headers[0]);
                }
                let sig_index = sig_from
                    .then(|| {
                        headers
                            .iter()
                            .rposition(|f| f.name.eq_ignore_ascii_case(b"from"))
                    })
                    .flatten();
                let params = SigParams {
                    signed_headers: h.iter().copied(),
                    header_canon: super::super::canon::HeaderCanon::Relaxed,
                    hash: HashAlgorithm::Sha256,
                };
                let got = header_hash(
                    &headers,
                    sig_index,
                    b"DKIM-Signature: b=",
                    &params,
                    LineEndings::Crlf,
                );
                let mut used = vec![false; headers.len()];
                if let Some(i) = sig_index {
                    used[i] = true;
                }
                let mut data = Vec::new();
                for name in h {
                    if let Some(i) = (0..headers.len()).rev().find(|&i| {
                        !used[i]
                            && headers[i].has_colon
                            && headers[i].name.eq_ignore_ascii_case(name.as_bytes())
                    }) {
                        used[i] = true;
                        canonicalize_header_to(
                            super::super::canon::HeaderCanon::Relaxed,
                            LineEndings::Crlf,
                            headers[i].raw,
                            &mut data,
                        );
                    }
                }
                canonicalize_header_content_to(
                    super::super::canon::HeaderCanon::Relaxed,
                    LineEndings::Crlf,
                    b"DKIM-Signature: b=",
                    &mut data,
                );
                let mut direct = Hasher::new(HashAlgorithm::Sha256);
                direct.update(&data);
                assert_eq!(
                    got,
                    direct.finish(),
                    "{h:?} with {extra} extra fields, signature field {sig_index:?}"
                );
            }
        }
    }

    /// HashBuf hashes what a vector collects, whatever the buffer
    /// boundaries (names lower-cased across them, long runs, single octets).
    #[test]
    fn hash_buf_matches_vec() {
        for name_len in [1usize, 7, 60, 511, 512, 513, 1500] {
            let mut fields = Vec::new();
            for i in 0..40 {
                let name = "X-Long-NAME".repeat(name_len / 11 + 1);
                let name = &name[..name_len.max(1)];
                fields.push(format!("{name}{i}: Value {i}  with\r\n\t some  words\r\n"));
            }
            let mut buf = HashBuf::new(HashAlgorithm::Sha256);
            let mut vec = Vec::new();
            for f in &fields {
                canonicalize_header_to(
                    super::super::canon::HeaderCanon::Relaxed,
                    LineEndings::Crlf,
                    f.as_bytes(),
                    &mut buf,
                );
                canonicalize_header_to(
                    super::super::canon::HeaderCanon::Relaxed,
                    LineEndings::Crlf,
                    f.as_bytes(),
                    &mut vec,
                );
                buf.put_byte(b'!');
                vec.put_byte(b'!');
            }
            let mut direct = Hasher::new(HashAlgorithm::Sha256);
            direct.update(&vec);
            assert_eq!(buf.finish(), direct.finish(), "name length {name_len}");
        }
    }

    #[test]
    fn body_hashes_are_shared() {
        let sig = |extra: &str| {
            let a = if extra.contains("ed25519") {
                ""
            } else {
                "a=rsa-sha256; "
            };
            let v = format!("v=1; {a}d=example.com; s=s; h=From; bh=AA==; b=AA==; {extra}");
            body_key(&SigRef::parse(v.as_bytes()).unwrap())
        };
        let sigs = [
            sig("c=relaxed/relaxed"),
            sig("c=simple/relaxed"), // same body key as the first
            sig("c=relaxed/relaxed; a=ed25519-sha256"), // same hash too
            sig("c=relaxed/simple"),
            sig("c=relaxed/relaxed; l=3"),
        ];
        let keys = distinct_body_keys(sigs.into_iter());
        assert_eq!(keys.len(), 3, "{keys:?}");
        let hashes = body_hashes(b"abc  def\r\n\r\n", LineEndings::Crlf, &keys);
        assert_eq!(hashes.len(), 3);
        // The one-key path gives what the shared pass gives.
        for (i, k) in keys.iter().enumerate() {
            let one = body_hashes(b"abc  def\r\n\r\n", LineEndings::Crlf, &[*k]);
            assert_eq!(one, [hashes[i]]);
        }
        let get = |k: BodyKey| find_body(&hashes, &k).unwrap();
        assert_eq!(get((HashAlgorithm::Sha256, BodyCanon::Relaxed, None)).1, 9);
        assert_eq!(get((HashAlgorithm::Sha256, BodyCanon::Simple, None)).1, 10);
        // l=3 hashes "abc" but counts every canonicalized octet.
        let (h3, total) = get((HashAlgorithm::Sha256, BodyCanon::Relaxed, Some(3)));
        assert_eq!(*total, 9);
        let mut direct = Hasher::new(HashAlgorithm::Sha256);
        direct.update(b"abc");
        assert_eq!(*h3, direct.finish());
    }
}
