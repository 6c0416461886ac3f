#!/usr/bin/env bash
# setup.sh — from a fresh Debian 12 machine to ranked results: installs the Debian packages listed in
# .ci/packages.txt (with sudo when not root), builds spar (Release) in ./build, indexes the bundled sample
# corpus (examples/sample: 3,000 Debian package descriptions), runs the example queries and prints the
# ranked hits, then evaluates a 300-query run on the sample's known-item qrels.
# Environment: SPAR_BUILD_DIR (default build), SPAR_SKIP_APT=1 to skip the apt-get step.
set -euo pipefail
cd "$(dirname "$0")"
BUILD=${SPAR_BUILD_DIR:-build}
JOBS=$(nproc 2>/dev/null || echo 2)

if [ "${SPAR_SKIP_APT:-0}" != 1 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    mapfile -t PKGS < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' .ci/packages.txt)
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PKGS[@]}"
fi

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j"$JOBS"

SPAR="$BUILD/spar"
IDX="$BUILD/sample-index"
echo "== indexing examples/sample/corpus.jsonl.gz"
"$SPAR" index --input examples/sample/corpus.jsonl.gz --index "$IDX" --store-text --overwrite
while IFS= read -r q; do
    [ -n "$q" ] || continue
    echo
    echo "== spar search --query \"$q\" --k 5"
    "$SPAR" search --index "$IDX" --query "$q" --k 5
done < examples/sample/examples.txt
echo
echo "== 300 known-item queries -> $BUILD/sample.run, then spar eval"
"$SPAR" search --index "$IDX" --queries examples/sample/queries.jsonl --run "$BUILD/sample.run" --k 100
"$SPAR" eval --qrels examples/sample/qrels.tsv --run "$BUILD/sample.run" --format table
