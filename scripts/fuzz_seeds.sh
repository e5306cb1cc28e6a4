#!/bin/sh
# Generate fuzz/corpus/<target>/ seeds (see scripts/fuzz_seeds.py).
exec python3 "$(dirname "$0")/fuzz_seeds.py" "$@"
