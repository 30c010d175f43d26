#!/usr/bin/env python3
"""Independent byte-level BPE encoder for Qwen2/Qwen3 tokenizer.json files.

Written from the algorithm (GPT-2 byte-to-unicode table, Qwen2 pre-tokenizer
regex, rank-ordered pair merges), sharing no code with @huggingface/tokenizers.
Writes the expected ids that libs/data's HfTokenizer test compares against.

Usage: python3 tools/reference/qwen_bpe.py TOKENIZER_JSON OUT_JSON
Needs the `regex` module (installed in the pyenv python3, not in Debian's) for \\p{L} / \\p{N}.
"""
import json
import random
import sys
import unicodedata

import regex

# Qwen2's pre-tokenizer pattern, as published in its tokenizer.json.
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable code points."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


class QwenBpe:
    def __init__(self, tokenizer_json):
        model = tokenizer_json["model"]
        assert model["type"] == "BPE"
        self.vocab = model["vocab"]
        merges = model["merges"]
        self.ranks = {}
        for i, m in enumerate(merges):
            pair = tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1))
            self.ranks[pair] = i
        self.byte_map = bytes_to_unicode()
        self.pattern = regex.compile(QWEN2_PATTERN)
        self.added = {t["content"]: t["id"] for t in tokenizer_json["added_tokens"]}
        # Longest first, so that an added token never matches inside a longer one.
        alternation = "|".join(regex.escape(t) for t in sorted(self.added, key=len, reverse=True))
        self.added_pattern = regex.compile(alternation)

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            a, b = parts[best[1]], parts[best[1] + 1]
            merged = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode_plain(self, text):
        text = unicodedata.normalize("NFC", text)
        ids = []
        for piece in self.pattern.findall(text):
            mapped = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
            ids.extend(self.vocab[t] for t in self.bpe(mapped))
        return ids

    def encode(self, text):
        ids = []
        pos = 0
        for m in self.added_pattern.finditer(text):
            ids.extend(self.encode_plain(text[pos : m.start()]))
            ids.append(self.added[m.group(0)])
            pos = m.end()
        ids.extend(self.encode_plain(text[pos:]))
        return ids


CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "12+7=19, 3405 * 12 = 40860",
    "  leading spaces and   runs of    spaces  ",
    "line one\nline two\n\n\nindented:\n    code()\r\n",
    "I'm sure they'll say it's DON'T.",
    "你好，世界！今天天气很好。",
    "emoji: 😀🎉👍🏽 and 🇫🇷",
    "mixed 中文 and English 123abc",
    "café naïve Ünïcödé",  # NFC composed forms
    "cafe\u0301",  # decomposed; NFC turns it into café
    "tabs\tand\ttabs",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
]

# Qwen3's chat template rendered by hand for one conversation (no tools, the
# last assistant turn after the last user turn gets the empty think block).
CHAT_MESSAGES = [
    {"role": "system", "content": "You are a calculator."},
    {"role": "user", "content": "What is 12+7?"},
    {"role": "assistant", "content": "19"},
]
CHAT_RENDERED = (
    "<|im_start|>system\nYou are a calculator.<|im_end|>\n"
    "<|im_start|>user\nWhat is 12+7?<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n\n</think>\n\n19<|im_end|>\n"
)
CHAT_PROMPT_RENDERED = (
    "<|im_start|>system\nYou are a calculator.<|im_end|>\n"
    "<|im_start|>user\nWhat is 12+7?<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def random_cases(n=200, seed=0):
    """Seeded random strings over pieces that stress the pre-tokenizer: runs of
    spaces before newlines, contractions, digits, punctuation runs, CJK, emoji."""
    pieces = (
        list("abcXYZ019 .,!?-_*/+=()[]{}<>#@$%&;:\"\n\t\r")
        + [" ", "  ", "   ", "\n\n", " \n", "'s", "'S", "'ll", "'re", "n't", "hello", " world", "123", "4567"]
        + ["中", "文", "，", "。", "é", "ü", "ß", "😀", "👍🏽", "🇫🇷", "\u00a0", "—", "…"]
    )
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 24))) for _ in range(n)]


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        tok = QwenBpe(json.load(f))
    fixture = {
        "source": "tools/reference/qwen_bpe.py",
        "cases": [{"text": t, "ids": tok.encode(t)} for t in CASES],
        "random_cases": [{"text": t, "ids": tok.encode(t)} for t in random_cases()],
        "chat": {
            "messages": CHAT_MESSAGES,
            "rendered": CHAT_RENDERED,
            "ids": tok.encode(CHAT_RENDERED),
            "prompt_rendered": CHAT_PROMPT_RENDERED,
            "prompt_ids": tok.encode(CHAT_PROMPT_RENDERED),
        },
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
