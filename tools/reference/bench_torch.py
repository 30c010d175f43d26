#!/usr/bin/python3
"""PyTorch side of `npm run bench`: the same Llama model, sizes and steps in
plain PyTorch on the CPU, set up as a user would have it (Debian's
python3-torch, OpenBLAS, every core).

Reads a JSON list of measurement specs (argv[1], or stdin when argv[1] is "-")
and prints one JSON object: {"env": {...}, "results": [{...spec, "tokens_per_s": x, ...}]}.
Each spec runs with all cores (torch.set_num_threads(nproc), as a user would
have it) and with one thread; the better figure is reported, both are kept.

Spec fields:
  mode        "train" (forward + token log-prob NLL + backward + AdamW),
              "logprob" (frozen forward + token log-probs, no grad),
              "generate" (prefill + KV-cache decode loop)
  preset      "tiny" | "small" (the @rxrl/model llama presets)
  vocab       vocabulary size
  batch, seq  batch rows and sequence length (generate: prompt length)
  new_tokens  generate only: tokens decoded per row
  sample      generate only: true = multinomial sampling at temperature 1, false = greedy
  iters       timed repetitions (median reported)

The model reuses tools/reference/models.py's RMSNorm, rotate-half and GQA
attention; everything runs in float32 here (models.py computes in float64 for
the parity fixtures).

  /usr/bin/python3 tools/reference/bench_torch.py '[{"mode":"train","preset":"tiny","vocab":8192,"batch":8,"seq":128}]'
"""
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import attend, inv_frequencies, rms_norm, rotate_half  # noqa: E402

# Same sizes as presetHfConfig in libs/model/src/modelConfig.ts (llama).
PRESETS = {
    "tiny": dict(d=64, layers=2, heads=4, kv=2, inter=128),
    "small": dict(d=256, layers=4, heads=8, kv=4, inter=768),
}
ROPE_THETA = 500000.0
EPS = 1e-6


def blas_library():
    """The BLAS shared object actually mapped into this process (after a matmul ran)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if "/" in line else ""
            name = os.path.basename(path)
            if "blas" in name or "mkl" in name or "atlas" in name or "blis" in name:
                libs.add(os.path.realpath(path))
    return sorted(libs)


class Llama:
    """Untied-head Llama with HF init (normal(0, 0.02) matrices, ones for norms)."""

    def __init__(self, preset, vocab, seed=0):
        p = PRESETS[preset]
        self.d, self.layers, self.hq, self.hkv, self.inter = p["d"], p["layers"], p["heads"], p["kv"], p["inter"]
        self.dh = self.d // self.hq
        self.vocab = vocab
        g = torch.Generator().manual_seed(seed)

        def w(*shape):
            return (torch.randn(*shape, generator=g) * 0.02).requires_grad_()

        def ones(n):
            return torch.ones(n).requires_grad_()

        d, dh = self.d, self.dh
        self.params = {"embed": w(vocab, d), "norm": ones(d), "head": w(vocab, d)}
        for i in range(self.layers):
            P = f"l{i}."
            self.params.update({
                P + "in_norm": ones(d), P + "post_norm": ones(d),
                P + "q": w(self.hq * dh, d), P + "k": w(self.hkv * dh, d), P + "v": w(self.hkv * dh, d),
                P + "o": w(d, self.hq * dh),
                P + "gate": w(self.inter, d), P + "up": w(self.inter, d), P + "down": w(d, self.inter),
            })
        self.inv = inv_frequencies(dh, ROPE_THETA, None).to(torch.float32)

    def rope(self, positions):
        freqs = positions.to(torch.float32)[:, None] * self.inv  # [T, Dh/2]
        emb = torch.cat([freqs, freqs], dim=-1)[None, :, None, :]
        return emb.cos(), emb.sin()

    def forward(self, ids, cache=None):
        """Final hidden states [B,T,D]. With `cache` (list of (k, v) per layer, or empty list) the
        new tokens attend to the cached keys/values, which are extended in place."""
        W = self.params
        B, T = ids.shape
        past = cache[0][0].shape[1] if cache else 0
        cos, sin = self.rope(torch.arange(past, past + T))
        h = W["embed"][ids]
        for i in range(self.layers):
            P = f"l{i}."
            x = rms_norm(h, W[P + "in_norm"], EPS)
            q = (x @ W[P + "q"].T).view(B, T, self.hq, self.dh)
            k = (x @ W[P + "k"].T).view(B, T, self.hkv, self.dh)
            v = (x @ W[P + "v"].T).view(B, T, self.hkv, self.dh)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if cache is not None:
                if len(cache) > i:
                    k = torch.cat([cache[i][0], k], dim=1)
                    v = torch.cat([cache[i][1], v], dim=1)
                    cache[i] = (k, v)
                else:
                    cache.append((k, v))
            if k.shape[1] == T:
                a = attend(q, k, v, torch.ones(B, T))
            else:
                a = decode_attend(q, k, v)
            h = h + a.reshape(B, T, self.hq * self.dh) @ W[P + "o"].T
            x = rms_norm(h, W[P + "post_norm"], EPS)
            gate = x @ W[P + "gate"].T
            h = h + (torch.nn.functional.silu(gate) * (x @ W[P + "up"].T)) @ W[P + "down"].T
        return rms_norm(h, W["norm"], EPS)

    def logits(self, h):
        return h @ self.params["head"].T


def decode_attend(q, k, v):
    """New queries [B,T,Hq,Dh] against all cached keys [B,S,Hkv,Dh]; query t sits at position S-T+t."""
    B, T, hq, dh = q.shape
    S = k.shape[1]
    rep = hq // k.shape[2]
    k = k.repeat_interleave(rep, dim=2)
    v = v.repeat_interleave(rep, dim=2)
    scores = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(dh)
    if T > 1:
        allowed = torch.arange(S)[None, :] <= (torch.arange(T)[:, None] + S - T)
        scores = scores.masked_fill(~allowed[None, None], -1e9)
    return torch.einsum("bhts,bshd->bthd", scores.softmax(-1), v)


def token_log_probs(model, ids, targets):
    logits = model.logits(model.forward(ids))
    return logits.log_softmax(-1).gather(-1, targets[..., None])[..., 0]


def median_time(fn, iters, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def run_spec(spec):
    preset, vocab, B, T = spec["preset"], spec["vocab"], spec["batch"], spec["seq"]
    iters = spec.get("iters", 5)
    model = Llama(preset, vocab)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (B, T), generator=g)
    targets = torch.randint(0, vocab, (B, T), generator=g)
    out = dict(spec)
    if spec["mode"] == "train":
        params = list(model.params.values())
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

        def step():
            loss = -token_log_probs(model, ids, targets).mean()
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        s = median_time(step, iters, warmup=1)
        out.update(seconds=s, tokens_per_s=B * T / s)
    elif spec["mode"] == "logprob":
        for p in model.params.values():
            p.requires_grad_(False)

        def fwd():
            with torch.no_grad():
                token_log_probs(model, ids, targets)

        s = median_time(fwd, iters)
        out.update(seconds=s, tokens_per_s=B * T / s)
    elif spec["mode"] == "generate":
        for p in model.params.values():
            p.requires_grad_(False)
        n_new, sample = spec["new_tokens"], spec.get("sample", False)
        timing = {}

        def gen():
            with torch.no_grad():
                t0 = time.perf_counter()
                cache = []
                logits = model.logits(model.forward(ids, cache)[:, -1])
                t1 = time.perf_counter()
                for _ in range(n_new):
                    if sample:
                        nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
                    else:
                        nxt = logits.argmax(-1, keepdim=True)
                    logits = model.logits(model.forward(nxt, cache)[:, -1])
                t2 = time.perf_counter()
                timing["prefill"], timing["decode"] = t1 - t0, t2 - t1

        decode_times = []
        s = median_time(lambda: (gen(), decode_times.append(timing["decode"])), iters, warmup=1)
        decode = sorted(decode_times[1:] or decode_times)[len(decode_times[1:] or decode_times) // 2]
        out.update(seconds=s, tokens_per_s=B * n_new / s, decode_tokens_per_s=B * n_new / decode)
    else:
        raise ValueError(f"bench_torch: unknown mode {spec['mode']!r} (expected train, logprob or generate)")
    return out


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "-"
    specs = json.loads(sys.stdin.read() if arg == "-" else arg)
    # All cores is how a user runs it; one thread is measured too because on a
    # loaded machine OpenMP's spinning threads can make all-cores far slower,
    # and each result reports the better of the two (never flattering us).
    all_cores = int(os.environ.get("BENCH_TORCH_THREADS", os.cpu_count()))
    thread_counts = sorted({all_cores, 1}, reverse=True)
    env = {
        "torch": torch.__version__,
        "threads": thread_counts,
        "blas_info": next((s.split("=")[1] for s in torch.__config__.show().replace(",", "\n").split("\n")
                           if s.strip().startswith("BLAS_INFO")), None),
        "blas_libraries": blas_library(),
    }
    results = []
    for spec in specs:
        runs = {}
        for t in thread_counts:
            torch.set_num_threads(t)
            runs[t] = run_spec(spec)
        best = max(runs.values(), key=lambda r: r["tokens_per_s"])
        best = dict(best, threads=next(t for t, r in runs.items() if r is best),
                    tokens_per_s_by_threads={str(t): r["tokens_per_s"] for t, r in runs.items()})
        if "decode_tokens_per_s" in best:
            best["decode_tokens_per_s_by_threads"] = {str(t): r["decode_tokens_per_s"] for t, r in runs.items()}
            best["decode_tokens_per_s"] = max(r["decode_tokens_per_s"] for r in runs.values())
        results.append(best)
    print(json.dumps({"env": env, "results": results}))


if __name__ == "__main__":
    main()
