//! Signs a message with DKIM (feature `sign`) and prints the signed message
//! and the key record to publish.
//!
//! ```text
//! cargo run --features sign --example sign -- KEY DOMAIN SELECTOR MESSAGE [UNIX-TIME]
//! ```
//!
//! `KEY` is an RSA private key in PEM (PKCS#1 or PKCS#8) or a file holding
//! a base64 Ed25519 seed (32 octets). The key record goes to stderr, the
//! signed message to stdout. The bundled `examples/message.eml` was made
//! with this program from the keys in `examples/keys/` (test keys: never
//! use them for real mail).

use std::process::ExitCode;

use sender_auth::dkim::canon::{BodyCanon, HeaderCanon};
use sender_auth::dkim::sign::{Signer, SigningKey};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: sign KEY DOMAIN SELECTOR MESSAGE [UNIX-TIME]");
        return ExitCode::from(2);
    }
    let key_text = match std::fs::read_to_string(&args[0]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sign: cannot read {}: {e}", args[0]);
            return ExitCode::from(2);
        }
    };
    let key = if key_text.contains("-----BEGIN") {
        SigningKey::rsa_from_pem(&key_text)
    } else {
        SigningKey::ed25519_from_base64(key_text.trim())
    };
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            eprintln!("sign: {}: {e}", args[0]);
            return ExitCode::from(2);
        }
    };
    let message = match std::fs::read(&args[3]) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("sign: cannot read {}: {e}", args[3]);
            return ExitCode::from(2);
        }
    };
    eprintln!("{}", key.public_key_record());
    let mut signer = Signer::new(key, args[1].as_str(), args[2].as_str())
        .canonicalization(HeaderCanon::Relaxed, BodyCanon::Relaxed);
    if let Some(t) = args.get(4).and_then(|t| t.parse().ok()) {
        signer = signer.timestamp(t);
    }
    match signer.sign_message(&message) {
        Ok(signed) => {
            print!("{}", String::from_utf8_lossy(&signed));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sign: {e}");
            ExitCode::from(2)
        }
    }
}
