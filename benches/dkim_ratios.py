#!/usr/bin/env python3
"""Prints the DKIM table of BENCHMARKS.md from criterion's results.

Run after `cargo bench --features sign[,aws-lc-rs] --bench dkim`. Floor of a
verify row = SHA-256 of the whole message (sha2) + one signature verify with
the backend the library uses (rsa crate, or aws-lc with --aws; ed25519-dalek).
"""
import json, os, sys

root = os.path.join(os.path.dirname(__file__), "..", "target", "criterion")
aws = "--aws" in sys.argv


def est(*path):
    f = os.path.join(root, *path, "new", "estimates.json")
    try:
        with open(f) as fh:
            e = json.load(fh)
    except OSError:
        return None
    return e["median"]["point_estimate"] / 1000.0  # ns -> us


rsa_v = est("dkim_floor", "verify_rsa2048-aws-lc" if aws else "verify_rsa2048-rsa-crate")
ed_v = est("dkim_floor", "verify_ed25519-dalek")
sizes = [("1KiB", 1024), ("10KiB", 10240), ("100KiB", 102400), ("1MiB", 1048576)]
print("| alg | body | verify µs | floor µs (sha256 + verify) | ratio ≤ 1.15 | MB/s end to end | body canon+hash µs | sha256 µs |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for alg, v in (("rsa2048", rsa_v), ("ed25519", ed_v)):
    for label, n in sizes:
        t = est("dkim_verify", alg, label)
        sha = est("dkim_floor", "sha256", label)
        body = est("dkim_body", "relaxed", label)
        if None in (t, sha, v):
            print(f"| {alg} | {label} | missing |")
            continue
        floor = sha + v
        # message length = headers + body; criterion reports bytes via the
        # throughput, approximate with the body size plus the 306 header octets (unsigned message).
        mbps = (n + 306) / t  # bytes/us = MB/s
        ok = "yes" if t / floor <= 1.15 else "NO"
        print(f"| {alg} | {label} | {t:.1f} | {floor:.1f} | {t/floor:.3f} {ok} | {mbps:.0f} | {body:.1f} | {sha:.1f} |")
print()
for name in ("verify_rsa2048-rsa-crate", "verify_rsa2048-aws-lc", "verify_ed25519-dalek", "verify_ed25519-aws-lc"):
    e = est("dkim_floor", name)
    if e is not None:
        print(f"- {name}: {e:.1f} µs")
for label, _ in sizes:
    a, b = est("dkim_floor", "sha256", label), est("dkim_floor", "sha256-aws-lc", label)
    if b is not None:
        print(f"- sha256 {label}: sha2 {a:.1f} µs, aws-lc {b:.1f} µs")
