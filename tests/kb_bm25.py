#!/usr/bin/python3
"""An independent BM25 over the knowledge base, for tests/kb.sh.

Written from the definition (Robertson & Zaragoza, "The Probabilistic Relevance
Framework: BM25 and Beyond", 2009), not from core/kb.c: passages are cut at
markdown headings (outside ``` code fences), named by their heading path below
the document title, and scored with k1 = 1.2, b = 0.75 and
idf = ln(1 + (N - n + 0.5) / (n + 0.5)).  Terms: lower-cased runs of
[A-Za-z0-9_] and bytes >= 0x80, '_' trimmed at the ends, a snake_case word also
counted by its parts, stop words dropped (the list revops documents).

usage: kb_bm25.py DIR_OR_FILE QUERY [N]   -> one line per hit: score<TAB>heading
"""
import math
import os
import re
import sys

STOP = set("a an and are as at be by for from has have in is it its of on or that the this to was were which with".split())
WORD = re.compile(rb"[A-Za-z0-9_\x80-\xff]+")


def terms(text):
    out = []
    for m in WORD.finditer(text):
        w = m.group(0).lower()[:127].strip(b"_")
        if not w or w.decode("utf-8", "replace") in STOP:
            continue
        out.append(w)
        if b"_" in w:
            out += [p for p in w.split(b"_") if p and p.decode("utf-8", "replace") not in STOP]
    return out


def passages(path):
    titles = [None] * 8
    heading, body, fence = "", [], False
    res = []

    def flush():
        text = b"".join(body).strip()
        if text or heading:
            res.append((heading, text))

    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"```"):
                fence = not fence
            m = None if fence else re.match(rb"^(#{1,6})[ \t]+(.*?)[ #]*\r?\n?$", line)
            if m:
                flush()
                body = []
                level = len(m.group(1))
                titles[level - 1] = m.group(2).decode("utf-8")
                for i in range(level, 8):
                    titles[i] = None
                heading = " > ".join(t for i, t in enumerate(titles) if t and not (i == 0 and level > 1))
                continue
            body.append(line)
    flush()
    return res


def main():
    path, query = sys.argv[1], sys.argv[2].encode("utf-8")
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".md") and not f.startswith(".")) \
        if os.path.isdir(path) else [path]
    docs = []
    for f in files:
        for heading, text in passages(f):
            t = terms(heading.encode("utf-8")) + terms(text)
            docs.append((heading, {w: t.count(w) for w in set(t)}, len(t)))
    avgdl = sum(d[2] for d in docs) / len(docs)
    q = list(dict.fromkeys(terms(query)))
    df = {w: sum(1 for d in docs if w in d[1]) for w in q}
    scored = []
    for i, (heading, tf, dl) in enumerate(docs):
        s = 0.0
        for w in q:
            if w in tf:
                idf = math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5))
                s += idf * tf[w] * 2.2 / (tf[w] + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))
        if s > 0:
            scored.append((-s, i, heading))
    for s, _, heading in sorted(scored)[:n]:
        print("%.3f\t%s" % (-s, heading))


main()
