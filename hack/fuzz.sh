#!/usr/bin/env bash
# hack/fuzz.sh runs the repository's fuzz targets one after the other, each
# for FUZZTIME (default 10m), and prints a summary line per target. FUZZ
# limits the run to one target name (e.g. FUZZ=FuzzParse). It is what
# `make fuzz` runs; see docs/development.md.
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10m}
FUZZ=${FUZZ:-}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-2}

cd "$(dirname "$0")/.."
failed=0
while read -r pkg dir; do
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		if [[ -n "$FUZZ" && "$f" != "$FUZZ" ]]; then
			continue
		fi
		echo "==> $pkg $f for $FUZZTIME"
		start=$(date +%s)
		if "$GO" test -run '^$' -fuzz "^${f}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZ_PARALLEL" "$pkg"; then
			echo "==> $f: no finding in $(($(date +%s) - start))s"
		else
			echo "==> $f: FAILED (a crasher is in $dir/testdata/fuzz/$f)"
			failed=1
		fi
	done
done < <("$GO" list -f '{{.ImportPath}} {{.Dir}}' ./...)
exit "$failed"
