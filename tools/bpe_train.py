"""Byte-level BPE in GPT-2's format: trainer, encoder/decoder, vocab.json/merges.txt I/O.

Written from scratch (no tokenizers/transformers dependency).  Uses GPT-2's
bytes-to-unicode mapping and GPT-2's pre-tokenization regex.  The `regex`
module (Debian: python3-regex) gives the exact \\p{L}/\\p{N} classes; without it
we fall back to `re` with [^\\W\\d_] for letters and \\d for numbers, which is
equivalent on ASCII text.
"""
import json
from collections import Counter, defaultdict

try:
    import regex as _re
    GPT2_PAT = _re.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    PAT_KIND = "regex"
except ImportError:  # pragma: no cover - fallback path
    import re as _re
    GPT2_PAT = _re.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")
    PAT_KIND = "re-approx"

EOT = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char table (same order as GPT-2)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
          + list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs])), bs


BYTE2U, BYTE_ORDER = bytes_to_unicode()
U2BYTE = {v: k for k, v in BYTE2U.items()}


def pretokenize(text):
    return GPT2_PAT.findall(text)


def train_bpe(text, vocab_size, log=None):
    """Learn merges so that len(vocab) == vocab_size (256 bytes + merges + <|endoftext|>).

    Returns (vocab: dict token_str -> id, merges: list of (a, b) token strings)."""
    n_merges = vocab_size - 256 - 1
    # base symbols: ids 0..255 in GPT-2 byte order
    byte_id = {b: i for i, b in enumerate(BYTE_ORDER)}
    sym = [BYTE2U[b] for b in BYTE_ORDER]  # id -> token string
    counts = Counter(pretokenize(text))
    words = [[byte_id[b] for b in w.encode("utf-8")] for w in counts]
    freq = list(counts.values())
    pair_cnt = Counter()
    where = defaultdict(set)
    for wi, w in enumerate(words):
        f = freq[wi]
        for a, b in zip(w, w[1:]):
            pair_cnt[(a, b)] += f
            where[(a, b)].add(wi)
    merges = []
    for m in range(n_merges):
        if not pair_cnt:
            break
        # deterministic: highest count, ties broken by the token strings
        best = max(pair_cnt.items(), key=lambda kv: (kv[1], sym[kv[0][0]], sym[kv[0][1]]))[0]
        if pair_cnt[best] < 1:
            break
        new_id = len(sym)
        sym.append(sym[best[0]] + sym[best[1]])
        merges.append((sym[best[0]], sym[best[1]]))
        for wi in list(where[best]):
            w = words[wi]
            f = freq[wi]
            for a, b in zip(w, w[1:]):
                pair_cnt[(a, b)] -= f
                if pair_cnt[(a, b)] <= 0:
                    del pair_cnt[(a, b)]
                where[(a, b)].discard(wi)
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == best[0] and w[i + 1] == best[1]:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for a, b in zip(out, out[1:]):
                pair_cnt[(a, b)] += f
                where[(a, b)].add(wi)
        where.pop(best, None)
        pair_cnt.pop(best, None)
        if log and (m + 1) % 500 == 0:
            log(f"bpe: {m + 1}/{n_merges} merges")
    vocab = {s: i for i, s in enumerate(sym)}
    vocab[EOT] = len(vocab)
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = dict(vocab)
        self.inv = {i: s for s, i in self.vocab.items()}
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.merges = [tuple(m) for m in merges]
        self.cache = {}
        self.eot_id = self.vocab.get(EOT)

    def _bpe(self, word):
        parts = [BYTE2U[b] for b in word.encode("utf-8")]
        while len(parts) > 1:
            best, best_r = None, None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_r is None or r < best_r):
                    best, best_r = i, r
            if best is None:
                break
            a, b = parts[best], parts[best + 1]
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        return [self.vocab[p] for p in parts]

    def encode(self, text):
        ids = []
        for w in pretokenize(text):
            t = self.cache.get(w)
            if t is None:
                t = self._bpe(w)
                self.cache[w] = t
            ids.extend(t)
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            s = self.inv[int(i)]
            if s == EOT:
                out += s.encode()
            else:
                out += bytes(U2BYTE[c] for c in s)
        return out.decode("utf-8", errors="replace")

    def save(self, d):
        with open(f"{d}/vocab.json", "w", encoding="utf-8") as f:
            json.dump(self.vocab, f, ensure_ascii=False)
        with open(f"{d}/merges.txt", "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in self.merges:
                f.write(f"{a} {b}\n")

    @classmethod
    def load(cls, d):
        with open(f"{d}/vocab.json", encoding="utf-8") as f:
            vocab = json.load(f)
        merges = []
        with open(f"{d}/merges.txt", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#version") or not line.strip("\n"):
                    continue
                a, b = line.rstrip("\n").split(" ")
                merges.append((a, b))
        return cls(vocab, merges)
