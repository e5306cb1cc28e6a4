//! End-to-end tests of the `sender-auth` binary: the CLI contract of the
//! Foundation issue (flags, JSON keys, result words, exit status 2 on bad
//! input), over the bundled example.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_sender-auth");
const ZONE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/example.zone");
const MESSAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/message.eml");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const EXAMPLE: &[&str] = &[
    "check",
    "--zone",
    ZONE,
    "--ip",
    "192.0.2.25",
    "--helo",
    "mail.example.com",
    "--mail-from",
    "alice@example.com",
    "--authserv-id",
    "mx.example.net",
];

/// The README's first command: all four checks pass on the bundled example.
#[test]
fn readme_example_prints_header() {
    let mut args = EXAMPLE.to_vec();
    args.push(MESSAGE);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Authentication-Results: mx.example.net;"));
    for want in [
        "iprev=pass policy.iprev=192.0.2.25",
        "spf=pass smtp.mailfrom=alice@example.com",
        "spf=pass smtp.helo=mail.example.com",
        "dkim=pass header.d=example.com header.s=rsa2026",
        "dkim=pass header.d=example.com header.s=ed2026",
        "dmarc=pass",
        "header.from=example.com",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
}

#[test]
fn json_contract() {
    let mut args = EXAMPLE.to_vec();
    args.extend(["--json", MESSAGE]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "iprev",
        "spf_helo",
        "spf",
        "dkim",
        "dmarc",
        "authentication_results",
    ] {
        assert!(keys.contains(&k), "missing key {k}");
    }
    assert_eq!(v["iprev"]["result"], "pass");
    assert_eq!(v["iprev"]["names"][0], "mail.example.com");
    assert!(v["iprev"]["reason"].is_string());
    for k in ["spf", "spf_helo"] {
        assert_eq!(v[k]["result"], "pass");
        for f in ["domain", "mechanism", "explanation", "reason"] {
            assert!(v[k].get(f).is_some(), "{k}.{f}");
        }
    }
    assert_eq!(v["spf"]["domain"], "example.com");
    assert_eq!(v["spf"]["mechanism"], "mx");
    let dkim = v["dkim"].as_array().unwrap();
    assert_eq!(dkim.len(), 2);
    // Header order, top down: the RSA signature was added last, so it is first.
    assert_eq!(dkim[0]["selector"], "rsa2026");
    assert_eq!(dkim[0]["algorithm"], "rsa-sha256");
    assert_eq!(dkim[1]["selector"], "ed2026");
    assert_eq!(dkim[1]["algorithm"], "ed25519-sha256");
    for d in dkim {
        assert_eq!(d["result"], "pass");
        assert_eq!(d["domain"], "example.com");
        assert!(d["reason"].is_string());
    }
    assert_eq!(v["dmarc"]["result"], "pass");
    assert_eq!(v["dmarc"]["from_domain"], "example.com");
    assert_eq!(v["dmarc"]["policy"], "reject");
    assert_eq!(v["dmarc"]["disposition"], "none");
    assert!(v["dmarc"]["reason"].is_string());
    let ar = v["authentication_results"].as_str().unwrap();
    assert!(ar.starts_with("Authentication-Results: mx.example.net;"));
}

#[test]
fn keys_present_only_when_inputs_given() {
    let o = run(&["check", "--zone", ZONE, "--ip", "192.0.2.25", "--json"]);
    assert!(o.status.success());
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["authentication_results", "iprev"]);
}

#[test]
fn checks_subset_and_dmarc_mode() {
    let o = run(&[
        "check",
        "--zone",
        ZONE,
        "--ip",
        "192.0.2.25",
        "--mail-from",
        "alice@example.com",
        "--checks",
        "dmarc",
        "--dmarc-mode",
        "rfc7489",
        "--json",
        MESSAGE,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // dmarc brings spf and dkim, nothing else.
    assert!(v.get("iprev").is_none() && v.get("spf_helo").is_none());
    assert_eq!(v["spf"]["result"], "pass");
    assert_eq!(v["dmarc"]["result"], "pass");
    assert!(
        v["authentication_results"]
            .as_str()
            .unwrap()
            .contains("mode=rfc7489")
    );
}

#[test]
fn message_from_stdin_and_now() {
    let mut child = Command::new(BIN)
        .args([
            "check",
            "--zone",
            ZONE,
            "--checks",
            "dkim",
            "--now",
            "1795683700",
            "--json",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let message = std::fs::read(MESSAGE).unwrap();
    child.stdin.take().unwrap().write_all(&message).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["dkim"][0]["result"], "pass");
}

#[test]
fn null_sender() {
    let o = run(&[
        "check",
        "--zone",
        ZONE,
        "--ip",
        "192.0.2.25",
        "--helo",
        "mail.example.com",
        "--mail-from",
        "",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["spf"]["result"], "pass");
    assert_eq!(v["spf"]["domain"], "mail.example.com");
    assert!(
        v["authentication_results"]
            .as_str()
            .unwrap()
            .contains("smtp.mailfrom=postmaster@mail.example.com")
    );
}

fn assert_bad_input(args: &[&str], needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "args {args:?}");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"));
    assert!(stdout(&o).is_empty());
}

#[test]
fn bad_input_exits_2_with_one_line() {
    assert_bad_input(&["check", "--bogus"], "--bogus");
    assert_bad_input(&["frobnicate"], "frobnicate");
    assert_bad_input(&["check", "--zone", ZONE, "--ip", "1.2.3"], "--ip");
    assert_bad_input(
        &["check", "--zone", ZONE, "/nonexistent/message.eml"],
        "/nonexistent/message.eml",
    );
    assert_bad_input(
        &["check", "--zone", "/nonexistent.zone", "--ip", "192.0.2.1"],
        "/nonexistent.zone",
    );
    assert_bad_input(&["check", "--zone", ZONE, "--checks", "iprev,spam"], "spam");
    assert_bad_input(
        &["check", "--zone", ZONE, "--checks", "iprev"],
        "iprev needs --ip",
    );
    assert_bad_input(
        &[
            "check",
            "--zone",
            ZONE,
            "--dmarc-mode",
            "rfc1",
            "--ip",
            "192.0.2.1",
        ],
        "--dmarc-mode",
    );
    assert_bad_input(&["check", "--zone", ZONE, "--now", "soon"], "--now");
    assert_bad_input(
        &["check", "--nameserver", "localhost", "--ip", "192.0.2.1"],
        "--nameserver",
    );
    assert_bad_input(
        &["check", "--zone", ZONE, "--nameserver", "127.0.0.1:53"],
        "--nameserver",
    );
}

#[test]
fn malformed_zone_names_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.zone");
    std::fs::write(
        &path,
        "$ORIGIN example.com.\n@ IN TXT \"ok\"\nmail IN A 999.1.1.1\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    assert_bad_input(&["check", "--zone", p, "--ip", "192.0.2.1"], "line 3");
}
