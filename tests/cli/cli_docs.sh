#!/usr/bin/env bash
# cli_docs.sh — the documentation keeps up with the CLI: every --option that `spar <cmd> --help` lists for
# index, search, eval, verify, info, ann and encode appears in docs/cli/<cmd>.md, and the README's command block names
# every subcommand.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
SRC=${SPAR_SRC:?SPAR_SRC must point at the repository root}
missing=""
for c in index search eval verify info; do
    doc="$SRC/docs/cli/$c.md"
    [ -f "$doc" ] || { echo "FAIL: $doc missing" >&2; exit 1; }
    for opt in $("$SPAR" "$c" --help | grep -o -E -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -q -- "$opt" "$doc" || missing="$missing $c:$opt"
    done
done
# subcommands with their own sub-verbs
for v in "ann build" "ann search"; do
    set -- $v
    for opt in $("$SPAR" "$1" "$2" --help | grep -o -E -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -q -- "$opt" "$SRC/docs/cli/$1.md" || missing="$missing $1-$2:$opt"
    done
done
if "$SPAR" encode --help > /dev/null 2>&1; then
    for opt in $("$SPAR" encode --help | grep -o -E -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -q -- "$opt" "$SRC/docs/cli/encode.md" || missing="$missing encode:$opt"
    done
fi
[ -z "$missing" ] || { echo "FAIL: options missing from docs/cli:$missing" >&2; exit 1; }
for c in index search eval verify info; do
    grep -q "^spar $c " "$SRC/README.md" || { echo "FAIL: README does not show 'spar $c'" >&2; exit 1; }
done
echo "cli_docs: ok"
