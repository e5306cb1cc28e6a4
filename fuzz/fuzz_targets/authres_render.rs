#![no_main]
//! Authentication-Results rendering: whatever the (attacker-influenced)
//! values, the rendered field parses back (`authres::parse`) to the same
//! values (`normalized()`: control characters as spaces, keywords reduced),
//! both folded and on one line; it has exactly one resinfo per result (no
//! `;` injected outside quoted-strings and comments), every comment and
//! quoted-string closes, there are no control characters, and the folded
//! header form equals the one-line value.
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sender_auth::authres::{AuthenticationResults, HEADER_NAME, ResInfo, parse};

#[derive(Arbitrary, Debug)]
struct R {
    method: String,
    result: String,
    reason: Option<String>,
    comment: Option<String>,
    props: Vec<(String, String, String)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    id: String,
    results: Vec<R>,
}

/// Splits a rendered value at top-level `;` (outside quoted-strings and
/// comments); panics if a quoted-string or comment is left open.
fn top_level(v: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    let mut quoted = false;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        let cur = parts.last_mut().unwrap();
        cur.push(c);
        if quoted {
            match c {
                '\\' => cur.push(chars.next().expect("dangling backslash in quoted-string")),
                '"' => quoted = false,
                _ => {}
            }
        } else if depth > 0 {
            match c {
                '\\' => cur.push(chars.next().expect("dangling backslash in comment")),
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
        } else {
            match c {
                '"' => quoted = true,
                '(' => depth += 1,
                ')' => panic!("unbalanced ')' in {v:?}"),
                ';' => {
                    cur.pop();
                    parts.push(String::new());
                }
                _ => {}
            }
        }
    }
    assert!(!quoted, "unterminated quoted-string in {v:?}");
    assert_eq!(depth, 0, "unterminated comment in {v:?}");
    parts
}

fuzz_target!(|i: Input| {
    let mut ar = AuthenticationResults::new(i.id.clone());
    for r in i.results.iter().take(32) {
        let mut ri = ResInfo::new(r.method.clone(), r.result.clone());
        if let Some(x) = &r.reason {
            ri = ri.reason(x.clone());
        }
        if let Some(x) = &r.comment {
            ri = ri.comment(x.clone());
        }
        for (t, n, v) in r.props.iter().take(8) {
            ri = ri.property(t.clone(), n.clone(), v.clone());
        }
        ar.push(ri);
    }
    let v = ar.value();
    assert!(!v.chars().any(char::is_control), "control character in {v:?}");
    let h = ar.header();
    assert_eq!(h.replace(";\r\n\t", "; "), format!("{HEADER_NAME}: {v}"));
    let parts = top_level(&v);
    assert_eq!(parts.len(), ar.results.len().max(1) + 1, "{v:?}");
    for (p, r) in parts[1..].iter().zip(&ar.results) {
        let p = p.trim_start();
        let (m, _) = p.split_once('=').expect("method=result");
        assert!(!m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "{p:?}");
        let _ = r;
    }
    let want = ar.normalized();
    assert_eq!(parse(&h).as_ref(), Ok(&want), "{h:?}");
    assert_eq!(parse(&v).as_ref(), Ok(&want), "{v:?}");
});
