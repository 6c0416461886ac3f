#!/bin/sh
# bench/lucene/build.sh — compile LuceneBench.java against Debian's liblucene8-java (OpenJDK 17).
# Usage: bench/lucene/build.sh [OUTDIR]   (default: build-bench/lucene; prints the java classpath to use)
# Needs: apt-get install liblucene8-java default-jdk-headless
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build-bench/lucene}
J=/usr/share/java
for j in lucene-core lucene-analyzers-common; do
    f=$(ls $J/$j-[0-9]*.jar 2>/dev/null | head -n1)
    [ -n "$f" ] || { echo "missing $J/$j-*.jar: apt-get install liblucene8-java" >&2; exit 1; }
    cp="${cp:+$cp:}$f"
done
command -v javac >/dev/null || { echo "javac missing: apt-get install default-jdk-headless" >&2; exit 1; }
mkdir -p "$out"
javac -nowarn -d "$out" -cp "$cp" "$here/LuceneBench.java"
echo "$out:$cp"
