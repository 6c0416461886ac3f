#!/usr/bin/python3
"""examples/sample/make_sample.py — build the bundled sample corpus from Debian 12 package descriptions.

Input: the English package descriptions of Debian 12 "bookworm" main (the Translation-en index that
`apt-get update` downloads to /var/lib/apt/lists/*_bookworm_main_i18n_Translation-en*, any compression
apt understands; read through `apt-helper cat-file`), or a plain/gzip file given with --input.

Output (in this folder):
  corpus.jsonl.gz  BEIR JSONL {"_id": package, "title": package, "text": long description}
  queries.jsonl    known-item queries {"_id": "q001", "text": the package's short description}
  qrels.tsv        BEIR qrels (query-id, corpus-id, score=1): the package the short description belongs to
  examples.txt     a few hand-written example queries, one per line

Selection is deterministic: packages are sorted by name, library/-dev/-doc/-data/-common/-dbg packages and
descriptions shorter than 25 words are dropped, then every k-th package is kept so that about N_DOCS remain.
The short description (first line) is NOT part of the document text, so the known-item queries are not
copies of the text they should find. Every 10th document provides a query.

Usage: python3 examples/sample/make_sample.py [--input FILE] [--docs 3000]
"""
import argparse
import glob
import gzip
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP_NAME = re.compile(r"^(lib|golang-|node-|librust-|python3?-.*-doc)|(-dev|-doc|-data|-common|-dbg|-dbgsym|-l10n|-locale.*)$")


def read_translation(path):
    if path is None:
        cands = sorted(glob.glob("/var/lib/apt/lists/*_bookworm_main_i18n_Translation-en*"))
        if not cands:
            sys.exit("no bookworm Translation-en under /var/lib/apt/lists: run apt-get update first, or pass --input")
        path = cands[0]
    if path.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read(), path
    out = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True, capture_output=True)
    return out.stdout.decode("utf-8"), path


def parse(text):
    """Yield (package, short, long) from a Translation-en file."""
    for stanza in text.split("\n\n"):
        pkg, short, body, in_desc = None, None, [], False
        for line in stanza.split("\n"):
            if line.startswith("Package: "):
                pkg, in_desc = line[9:].strip(), False
            elif line.startswith("Description-en: "):
                short, in_desc = line[16:].strip(), True
            elif in_desc and line.startswith(" "):
                body.append("" if line.strip() == "." else line.strip())
            else:
                in_desc = False
        if pkg and short and body:
            long = re.sub(r"\s+", " ", " ".join(body)).strip()
            yield pkg, short, long


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input")
    ap.add_argument("--docs", type=int, default=3000)
    args = ap.parse_args()
    text, src = read_translation(args.input)
    seen, cands = set(), []
    for pkg, short, long in parse(text):
        if pkg in seen or SKIP_NAME.search(pkg) or len(long.split()) < 25:
            continue
        seen.add(pkg)
        cands.append((pkg, short, long))
    cands.sort()
    step = max(1, len(cands) // args.docs)
    docs = cands[::step][: args.docs]
    with gzip.GzipFile(os.path.join(HERE, "corpus.jsonl.gz"), "wb", mtime=0) as f:
        for pkg, short, long in docs:
            f.write((json.dumps({"_id": pkg, "title": pkg, "text": long}, ensure_ascii=False) + "\n").encode())
    with open(os.path.join(HERE, "queries.jsonl"), "w", encoding="utf-8") as fq, \
            open(os.path.join(HERE, "qrels.tsv"), "w", encoding="utf-8") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for i, (pkg, short, _) in enumerate(docs[::10]):
            qid = "q%03d" % (i + 1)
            fq.write(json.dumps({"_id": qid, "text": short}, ensure_ascii=False) + "\n")
            fr.write("%s\t%s\t1\n" % (qid, pkg))
    print("source %s: %d candidate packages, kept %d (every %d-th), %d queries"
          % (src, len(cands), len(docs), step, len(docs[::10])), file=sys.stderr)


if __name__ == "__main__":
    main()
