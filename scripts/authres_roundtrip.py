#!/usr/bin/env python3
"""Reads back the Authentication-Results header that `sender-auth check`
emits with an independent RFC 8601 parser (the `authres` package from PyPI)
and checks that it carries the same values as the CLI's JSON output.

Usage: authres_roundtrip.py PATH-TO-sender-auth

Scenarios: the bundled example (every check passes), a failing one, and a
hostile zone whose DNS data and message try to inject A-R syntax.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import authres

DOMAIN = re.compile(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZONE = os.path.join(ROOT, "examples", "example.zone")
MESSAGE = os.path.join(ROOT, "examples", "message.eml")

HOSTILE_ZONE = r"""
$ORIGIN evil.example.
$TTL 300
@        IN TXT "v=spf1 -all exp=explain.evil.example"
explain  IN TXT "x\"; dkim=pass header.d=bank.example; dmarc=pass (hi"
_dmarc   IN TXT "v=DMARC1; p=reject"
$ORIGIN 2.0.192.in-addr.arpa.
66       IN PTR bad\"name.evil.example.
"""

HOSTILE_MESSAGE = (
    "Authentication-Results: mx.test; dmarc=pass\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=ev\"il.example; s=x; h=from; bh=AA==; b=AA==\r\n"
    "From: \"x; dmarc=pass\" <a@evil.example>\r\n"
    "Subject: hi\r\n\r\nbody\r\n"
)


def run(args):
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"FAIL: {args} exited {out.returncode}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def check(binary, args, name):
    data = run([binary, "check", "--authserv-id", "mx.test", "--json", *args])
    header = data["authentication_results"]
    parsed = authres.AuthenticationResultsHeader.parse(header)
    problems = []
    if parsed.authserv_id != "mx.test":
        problems.append(f"authserv-id {parsed.authserv_id!r}")
    results = parsed.results
    by_method = {}
    for r in results:
        by_method.setdefault(r.method, []).append(r)
    expected_count = 0
    if "iprev" in data:
        expected_count += 1
        r = by_method["iprev"][0]
        if r.result != data["iprev"]["result"]:
            problems.append(f"iprev {r.result} != {data['iprev']['result']}")
    for key, ptype in (("spf", "mailfrom"), ("spf_helo", "helo")):
        if key in data:
            expected_count += 1
            match = [
                r for r in by_method.get("spf", [])
                if any(p.type == "smtp" and p.name == ptype for p in r.properties)
            ]
            if len(match) != 1 or match[0].result != data[key]["result"]:
                problems.append(f"{key}: {[(m.result) for m in match]} vs {data[key]['result']}")
    if "dkim" in data:
        sigs = data["dkim"]
        expected_count += max(1, len(sigs))
        got = by_method.get("dkim", [])
        if sigs:
            if [r.result for r in got] != [s["result"] for s in sigs]:
                problems.append(f"dkim results {[r.result for r in got]} vs {[s['result'] for s in sigs]}")
            for r, s in zip(got, sigs):
                d = [p.value for p in r.properties if p.type == "header" and p.name == "d"]
                # A malformed d= is not echoed (it is quoted in the reason).
                want = [s["domain"]] if DOMAIN.fullmatch(s["domain"]) else []
                if d != want:
                    problems.append(f"dkim header.d {d} vs {s['domain']!r}")
        elif [r.result for r in got] != ["none"]:
            problems.append("dkim=none expected")
    if "dmarc" in data:
        expected_count += 1
        r = by_method["dmarc"][0]
        if r.result != data["dmarc"]["result"]:
            problems.append(f"dmarc {r.result} vs {data['dmarc']['result']}")
        frm = [p.value for p in r.properties if p.type == "header" and p.name == "from"]
        want = [data["dmarc"]["from_domain"]] if data["dmarc"]["from_domain"] else []
        if frm != want:
            problems.append(f"dmarc header.from {frm} vs {want}")
    if len(results) != expected_count:
        problems.append(f"{len(results)} results, expected {expected_count}: {[r.method for r in results]}")
    if problems:
        print(f"FAIL {name}: {header!r}")
        for p in problems:
            print(f"  - {p}")
        return False
    print(f"ok   {name}: {len(results)} results read back")
    return True


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    ok = True
    ok &= check(binary, ["--zone", ZONE, "--ip", "192.0.2.25", "--helo", "mail.example.com",
                         "--mail-from", "alice@example.com", MESSAGE], "bundled example")
    ok &= check(binary, ["--zone", ZONE, "--ip", "2001:db8::99", "--helo", "evil.example",
                         "--mail-from", "", MESSAGE], "failing, IPv6 client")
    with tempfile.TemporaryDirectory() as d:
        zone = os.path.join(d, "hostile.zone")
        msg = os.path.join(d, "hostile.eml")
        with open(zone, "w") as f:
            f.write(HOSTILE_ZONE)
        with open(msg, "w", newline="") as f:
            f.write(HOSTILE_MESSAGE)
        ok &= check(binary, ["--zone", zone, "--ip", "192.0.2.66", "--helo", "evil.example",
                             "--mail-from", "x\"y@evil.example", msg], "hostile data")
    passed = 3 if ok else None
    if not ok:
        print("authres round-trip: FAILED")
        sys.exit(1)
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
