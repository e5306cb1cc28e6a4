#!/usr/bin/env python3
"""Generate fuzz seed corpora into fuzz/corpus/<target>/ from the shared
conformance data (../shared/conformance, never copied into the repository)
and the project's own examples and test sources. Standard library only.

Usage: scripts/fuzz_seeds.py [CONFORMANCE_DIR]
"""
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "conformance")
OUT = os.path.join(ROOT, "fuzz", "corpus")
counts = {}


def seed(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > 64 * 1024:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    p = os.path.join(d, name)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1


def files(base, exts=None):
    if not os.path.isdir(base):
        return
    for dp, _, fs in os.walk(base):
        for f in sorted(fs):
            if exts is None or any(f.endswith(e) for e in exts):
                yield os.path.join(dp, f)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def unquote(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
    return s


if not os.path.isdir(CONF):
    print(f"conformance data not found at {CONF}; seeding from the repository only", file=sys.stderr)

texts = []  # (path, text) of every text file we mine
for p in list(files(CONF, [".yml", ".yaml", ".txt", ".dns", ".zone", ".json", ".c"])) + list(
    files(os.path.join(ROOT, "tests"), [".rs"])
) + list(files(os.path.join(ROOT, "src"), [".rs"])) + list(files(os.path.join(ROOT, "examples"))):
    try:
        texts.append((p, read(p).decode("utf-8", "replace")))
    except OSError:
        pass

# Record-ish strings: quoted strings and YAML scalars holding the markers.
str_re = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|:\s+(v=\S.*)$', re.M)
for p, t in texts:
    for m in str_re.finditer(t):
        s = m.group(1) or m.group(2) or m.group(3) or ""
        s = s.replace("\\r", "\r").replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        low = s.lower()
        if "v=spf1" in low:
            seed("spf_record", s)
            for term in s.split():
                if "%" in term:
                    for ctx in (b"\x00", b"\x01"):
                        seed("spf_macro", ctx + term.split(":", 1)[-1].split("=", 1)[-1].encode())
        if "%{" in s:
            seed("spf_macro", b"\x02" + s.encode())
        if "v=dkim1" in low or re.search(r"\bk=(rsa|ed25519)", low) or low.startswith("p="):
            seed("dkim_key", s)
        if "v=dmarc1" in low:
            seed("dmarc_record", s)
        if "b=" in s and "bh=" in s:
            seed("dkim_signature", s)
        if "authentication-results" in low or re.match(r"^[\w.-]+;\s*\w+=", s):
            seed("authres_parse", s)
            seed("authres_render", s)
        if s.lower().startswith("from:") or ("@" in s and "<" in s):
            seed("author_domain", s)

# Messages.
msgs = []
for p in files(CONF, [".eml", ".msg", ".message", ".mbox", ".baddomain"]):
    msgs.append(read(p))
for p in files(os.path.join(ROOT, "examples"), [".eml"]):
    msgs.append(read(p))
for m in msgs:
    seed("author_domain", m)
    seed("dkim_canon", m)
    seed("authenticator", m)
    seed("authres_parse", m)
    for mode in (b"\x00", b"\x01", b"\x04"):
        seed("dkim_verify", mode + m)
    for line in re.split(rb"\r?\n(?![ \t])", m):
        if line.lower().startswith(b"dkim-signature:"):
            seed("dkim_signature", line.split(b":", 1)[1])
        if line.lower().startswith(b"from:"):
            seed("author_domain", line.split(b":", 1)[1])

# Zone files.
for p in list(files(CONF, [".zone", ".dns"])) + list(files(os.path.join(ROOT, "examples"), [".zone"])):
    z = read(p)
    seed("zonefile", b"\x00" + z)
    seed("zonefile", b"\x01" + z)

# A little of everything for the structured targets (read as arbitrary bytes).
for t in ("spf_check_host", "authres_render"):
    for s in ("v=spf1 include:_spf.example.com mx a:%{d} -all", "mx.example.net; spf=pass smtp.mailfrom=a@b"):
        seed(t, s)

for t in sorted(counts):
    print(f"{t}: {counts[t]} new seeds")
