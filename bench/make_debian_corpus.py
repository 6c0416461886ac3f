#!/usr/bin/python3
"""bench/make_debian_corpus.py — assemble a >= 1M-document real-text benchmark corpus (BEIR JSONL) plus a
held-out query set, from English text that Debian 12 packages ship. Only this script is kept in git; the text
it produces goes to bench/data/ (git-ignored).

Sources (install once, as root; the script checks and says what is missing):
    apt-get update -o Acquire::Languages=en      # fetches Translation-en = long package descriptions
    apt-get install -y --no-install-recommends wordnet-base wamerican perl-doc python3-doc manpages manpages-dev \
        linux-doc-6.1 debian-reference-en debian-policy developers-reference

  1. Debian package long descriptions (Translation-en of bookworm main): one doc per paragraph, title = package.
  2. WordNet 3.0 synset glosses (/usr/share/wordnet/data.{noun,verb,adj,adv}): one doc per synset,
     title = the synset's lemmas.
  3. Python 3.11 HTML documentation (python3-doc): one doc per <p> paragraph (and <li>/<dt>/<td> without
     inner paragraphs), title = page title.
  4. Perl POD (perl-doc and the core modules' POD): one doc per POD paragraph, title = file name.
  5. English man pages (/usr/share/man/man[1-8]/*.gz, roff stripped): one doc per paragraph, title = page name.
  6. /usr/share/doc/<pkg>/** {changelog*,NEWS*,HISTORY*,README*,*.txt,*.md,*.rst,*.html,copyright}:
     changelog bullets and text paragraphs, title = package.
  7. GNU info manuals (/usr/share/info): one doc per paragraph, title = manual.
  8. Docstrings of the Python modules Debian ships (/usr/lib/python3.11, /usr/lib/python3/dist-packages,
     tests excluded): one doc per docstring paragraph, title = module path.

Every paragraph is whitespace-normalised (control characters become spaces); paragraphs longer than MAX_WORDS are cut at sentence ends into pieces of
at most MAX_WORDS words; pieces with fewer than MIN_WORDS words are dropped; exact duplicates (case-folded) are
dropped. Documents keep the order of the sources; ids are d0000001... .

Queries (held out, never part of any document): the package *short* descriptions ("Description-en" first line,
which the documents above never include), restricted to 2..6 word ones, deduplicated, then a seeded sample of
N_QUERIES (default 2000). They read like real user queries ("real-time strategy game of ancient warfare").

Usage: /usr/bin/python3 bench/make_debian_corpus.py [--out bench/data/debian] [--queries 2000] [--max-docs N]
Writes OUT/corpus.jsonl.gz, OUT/queries.jsonl, OUT/stats.json.
"""
import argparse
import glob
import gzip
import hashlib
import html
import json
import os
import random
import re
import subprocess
import sys

MIN_WORDS = 8
MAX_WORDS = 120
WS = re.compile(r"\s+")
CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # e.g. the NUL-BS image markers of info files
SENT_END = re.compile(r"(?<=[.!?;:])\s+")


def norm(s):
    return WS.sub(" ", CTRL.sub(" ", s)).strip()


def chunks(text):
    """Yield pieces of `text` of MIN_WORDS..MAX_WORDS words, cut at sentence ends where possible."""
    text = norm(text)
    if not text:
        return
    words = text.split(" ")
    if len(words) <= MAX_WORDS:
        if len(words) >= MIN_WORDS:
            yield text
        return
    cur = []
    for sent in SENT_END.split(text):
        sw = sent.split(" ")
        if cur and len(cur) + len(sw) > MAX_WORDS:
            if len(cur) >= MIN_WORDS:
                yield " ".join(cur)
            cur = []
        while len(sw) > MAX_WORDS:  # one huge "sentence": hard cut
            yield " ".join(sw[:MAX_WORDS])
            sw = sw[MAX_WORDS:]
        cur.extend(sw)
    if len(cur) >= MIN_WORDS:
        yield " ".join(cur)


def read_text(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except (OSError, EOFError):
        return ""
    if b"\0" in data[:4096]:
        return ""
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- 1. package descriptions (+ held-out queries)
def translation_files():
    return sorted(glob.glob("/var/lib/apt/lists/*_i18n_Translation-en*"))


def package_descriptions(short_out):
    files = translation_files()
    if not files:
        sys.exit("no Translation-en index: run  apt-get update -o Acquire::Languages=en")
    for path in files:
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True,
                              text=True, errors="replace").stdout
        for stanza in text.split("\n\n"):
            pkg, desc = None, None
            lines = stanza.split("\n")
            for i, line in enumerate(lines):
                if line.startswith("Package: "):
                    pkg = line[9:].strip()
                elif line.startswith("Description-en: "):
                    short = line[len("Description-en: "):].strip()
                    short_out.add(short)
                    desc = lines[i + 1:]
                    break
            if not pkg or desc is None:
                continue
            para = []
            for line in desc + [" ."]:
                if not line.startswith(" "):
                    break
                if line.strip() == ".":
                    for c in chunks(" ".join(para)):
                        yield pkg, c
                    para = []
                else:
                    para.append(line.strip())
            for c in chunks(" ".join(para)):
                yield pkg, c


# ---------------------------------------------------------------- 2. WordNet glosses
def wordnet():
    for pos in ("noun", "verb", "adj", "adv"):
        path = "/usr/share/wordnet/data." + pos
        if not os.path.exists(path):
            sys.exit("missing " + path + ": apt-get install wordnet-base")
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                head, gloss = line.split("|", 1)
                f_ = head.split()
                n = int(f_[3], 16)
                lemmas = [f_[4 + 2 * i].replace("_", " ") for i in range(n)]
                gloss = norm(gloss)
                # glosses are short: keep from 4 words
                if len(gloss.split(" ")) >= 4:
                    yield ", ".join(lemmas), gloss


# ---------------------------------------------------------------- 3. Python HTML docs
TAG = re.compile(r"<[^>]+>")
PARA = re.compile(r"<(p|li|dt|td)\b[^>]*>(.*?)</\1>", re.S)
TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def python_docs():
    files = sorted(glob.glob("/usr/share/doc/python3.11/html/**/*.html", recursive=True))
    if not files:
        sys.exit("missing python docs: apt-get install python3-doc")
    for path in files:
        doc = read_text(path)
        m = TITLE.search(doc)
        title = norm(html.unescape(TAG.sub("", m.group(1)))) if m else os.path.basename(path)
        for m in PARA.finditer(doc):
            inner = m.group(2)
            if "<p" in inner:  # an <li>/<td> holding paragraphs: those are taken on their own
                continue
            for c in chunks(html.unescape(TAG.sub(" ", inner))):
                yield title, c


# ---------------------------------------------------------------- 4. Perl POD
POD_CODE = re.compile(r"[A-Z]<<+\s*(.*?)\s*>+>|[A-Z]<([^<>]*)>")


def pod_clean(s):
    prev = None
    while prev != s:
        prev = s
        s = POD_CODE.sub(lambda m: (m.group(1) or m.group(2) or "").split("|")[0], s)
    return s


def perl_pod():
    files = sorted(glob.glob("/usr/share/perl/*/pod/*.pod") + glob.glob("/usr/share/perl/*/**/*.pm", recursive=True)
                   + glob.glob("/usr/share/perl5/**/*.pm", recursive=True))
    if not files:
        sys.exit("missing perl pod: apt-get install perl-doc")
    for path in files:
        text = read_text(path)
        inpod = path.endswith(".pod")
        title = os.path.basename(path)
        for para in re.split(r"\n\s*\n", text):
            if para.startswith("="):
                cmd = para.split(None, 1)[0]
                if cmd == "=cut":
                    inpod = False
                else:
                    inpod = True
                continue
            if not inpod or para[:1] in (" ", "\t"):  # verbatim (code) paragraphs are skipped
                continue
            for c in chunks(pod_clean(para)):
                yield title, c


# ---------------------------------------------------------------- 5. man pages
ROFF_ESC = re.compile(r"\\f(\[[^\]]*\]|\(..|.)|\\s[-+]?\d+|\\\*(\(..|\[[^\]]*\]|.)|\\\((..)|\\\[[^\]]*\]|\\[&|^%c:]")
ROFF_PARA = {".PP", ".P", ".LP", ".TP", ".IP", ".SH", ".SS", ".sp", ".br", ".HP", ".RS", ".RE", ".nf", ".fi",
             ".EX", ".EE", ".TH", ".Sh", ".Pp", ".It", ".Bl", ".El", ".Ss", ".Bd", ".Ed"}
ROFF_TEXT = {".B", ".I", ".BI", ".BR", ".IB", ".IR", ".RB", ".RI", ".SM", ".SB", ".Nm", ".Ar", ".Fl", ".Em",
             ".Xr", ".Pa", ".Cm", ".Dq", ".Sq", ".Ql", ".Va", ".Ev", ".Fn", ".Ic", ".Li", ".Ft", ".Nd"}


def roff_text(s):
    s = ROFF_ESC.sub("", s).replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ").replace("\\", "")
    return s.replace('"', "")


def man_pages():
    files = sorted(glob.glob("/usr/share/man/man[1-8]/*.gz"))
    for path in files:
        text = read_text(path)
        if text.startswith(".so ") and text.count("\n") <= 2:
            continue
        title = os.path.basename(path)[:-3]
        para = []
        in_nf = False
        for line in text.split("\n"):
            if line.startswith(".") or line.startswith("'"):
                parts = line.split(None, 1)
                mac = parts[0] if parts else "."
                if mac in (".nf", ".EX", ".Bd"):
                    in_nf = True
                elif mac in (".fi", ".EE", ".Ed"):
                    in_nf = False
                if mac in ROFF_PARA:
                    for c in chunks(" ".join(para)):
                        yield title, c
                    para = []
                elif mac in ROFF_TEXT and len(parts) > 1 and not in_nf:
                    para.append(roff_text(parts[1]))
                continue
            if in_nf:
                continue
            if not line.strip():
                for c in chunks(" ".join(para)):
                    yield title, c
                para = []
            else:
                para.append(roff_text(line))
        for c in chunks(" ".join(para)):
            yield title, c


# ---------------------------------------------------------------- 6. /usr/share/doc
def share_doc():
    pats = re.compile(r"^(changelog.*|NEWS.*|HISTORY.*|README.*|.*\.txt(\.gz)?|.*\.md(\.gz)?|.*\.rst(\.gz)?|"
                      r"copyright|.*\.html?(\.gz)?)$", re.I)
    for pkgdir in sorted(glob.glob("/usr/share/doc/*")):
        pkg = os.path.basename(pkgdir)
        if not os.path.isdir(pkgdir) or os.path.islink(pkgdir):
            continue
        files = []
        for root, dirs, names in os.walk(pkgdir):
            # python3.11/html is source 3; linux-doc's html is rendered from its Documentation/*.rst (taken)
            if root.startswith("/usr/share/doc/python3.11/html") or re.match(r"/usr/share/doc/linux-doc-[^/]*/html", root):
                dirs[:] = []
                continue
            files += [os.path.join(root, nm) for nm in names if pats.match(nm)]
        for path in sorted(set(files)):
            if os.path.isdir(path) or os.path.islink(path):
                continue
            text = read_text(path)
            if ".htm" in path:
                text = html.unescape(TAG.sub(" ", re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", text))
                                     .replace("</p>", "\n\n"))
            is_changelog = "changelog" in os.path.basename(path).lower()
            if is_changelog:
                # one doc per bullet ("  * ..." / "  - ..." and its continuation lines)
                cur = []
                for line in text.split("\n"):
                    st = line.strip()
                    if re.match(r"^\s*[*+-] ", line) or not st or not line.startswith(" ") or st.startswith("--"):
                        for c in chunks(" ".join(cur)):
                            yield pkg, c
                        cur = [st[2:]] if re.match(r"^\s*[*+-] ", line) else []
                    else:
                        cur.append(st)
                for c in chunks(" ".join(cur)):
                    yield pkg, c
            else:
                for para in re.split(r"\n\s*\n", text):
                    # skip code/ascii-art-ish paragraphs: few letters
                    letters = sum(ch.isalpha() for ch in para)
                    if letters < 0.6 * max(1, len(para.strip())):
                        continue
                    for c in chunks(para):
                        yield pkg, c


# ---------------------------------------------------------------- 7. info manuals
def info_pages():
    for path in sorted(glob.glob("/usr/share/info/*.info*")):
        text = read_text(path)
        title = os.path.basename(path).split(".info")[0]
        for para in re.split(r"\n\s*\n", text):
            if "\x1f" in para or para[:1] in (" ", "\t", "*"):
                continue
            for c in chunks(para):
                yield title, c


# ---------------------------------------------------------------- 8. Python docstrings
DOCSTR = re.compile(r'(?s)"""(.*?)"""' + r"|'" + r"''(.*?)''" + r"'")


def python_docstrings():
    files = sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True) +
                   glob.glob("/usr/lib/python3/dist-packages/**/*.py", recursive=True))
    for path in files:
        if "/test" in path:
            continue
        text = read_text(path)
        title = os.path.relpath(path, "/usr/lib")
        for m in DOCSTR.finditer(text):
            for para in re.split(r"\n\s*\n", m.group(1) or m.group(2) or ""):
                if ">>>" in para:
                    continue
                for c in chunks(para):
                    yield title, c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "data", "debian"))
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--max-docs", type=int, default=0, help="stop after this many documents (0 = all)")
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    seen = set()
    shorts = set()
    stats = {}
    n = 0
    tmp = os.path.join(args.out, "corpus.jsonl.gz.tmp")
    sources = [("package-descriptions", lambda: package_descriptions(shorts)), ("wordnet-glosses", wordnet),
               ("python3-doc", python_docs), ("perl-pod", perl_pod), ("man-pages", man_pages),
               ("usr-share-doc", share_doc), ("info-manuals", info_pages), ("python-docstrings", python_docstrings)]
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as out:
        for name, gen in sources:
            k = 0
            for title, text in gen():
                if args.max_docs and n >= args.max_docs:
                    break
                key = hashlib.blake2b(text.lower().encode(), digest_size=12).digest()
                if key in seen:
                    continue
                seen.add(key)
                n += 1
                k += 1
                out.write(json.dumps({"_id": "d%07d" % n, "title": norm(title), "text": text},
                                     ensure_ascii=False) + "\n")
            stats[name] = k
            print("%-22s %8d docs (total %d)" % (name, k, n), file=sys.stderr)
    os.replace(tmp, os.path.join(args.out, "corpus.jsonl.gz"))

    # held-out queries: short package descriptions of 2..6 words
    cand = sorted({norm(s) for s in shorts if 2 <= len(norm(s).split(" ")) <= 6})
    rng = random.Random(args.seed)
    rng.shuffle(cand)
    qs = cand[:args.queries]
    with open(os.path.join(args.out, "queries.jsonl"), "w", encoding="utf-8") as f:
        for i, q in enumerate(qs):
            f.write(json.dumps({"_id": "q%05d" % (i + 1), "text": q}, ensure_ascii=False) + "\n")
    stats["documents"] = n
    stats["queries"] = len(qs)
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(json.dumps(stats), file=sys.stderr)
    if n < 1000000 and not args.max_docs:
        print("warning: only %d documents (< 1M)" % n, file=sys.stderr)


if __name__ == "__main__":
    main()
