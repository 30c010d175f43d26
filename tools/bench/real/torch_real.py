#!/usr/bin/python3
"""PyTorch side of `npm run bench -- --only real`: one measurement on a Hugging
Face model directory (Qwen2 / Llama layout, bf16 or f32 safetensors), in plain
PyTorch float32 on the CPU with every core, as a user without GPU would run it.
Loads the same files rxrl loads, so both sides compute with the same weights.

  /usr/bin/python3 tools/bench/real/torch_real.py DIR '{"mode":"generate","batch":1,"prompt":32,"new_tokens":32}'
  /usr/bin/python3 tools/bench/real/torch_real.py DIR '{"mode":"train","batch":1,"seq":512,"iters":2}'
  /usr/bin/python3 tools/bench/real/torch_real.py DIR '{"mode":"grpo","prompts":2,"generations":4,"prompt":32,"new_tokens":32,"kl":0.01}'

Prints one JSON object: tokens_per_s, seconds per iteration, peak RSS (bytes,
getrusage) and the threads and BLAS in use.
"""
import json
import math
import os
import resource
import struct
import sys
import time

import torch

DTYPES = {"BF16": None, "F32": torch.float32, "F16": torch.float16}


def read_safetensors(path):
    """name -> float32 tensor; bf16 widened by shifting its 16 bits into a float32's high half."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            a, b = meta["data_offsets"]
            f.seek(base + a)
            raw = bytearray(f.read(b - a))
            if meta["dtype"] == "BF16":
                t = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16
                t = t.view(torch.float32)
            else:
                t = torch.frombuffer(raw, dtype=DTYPES[meta["dtype"]]).to(torch.float32)
            out[name] = t.reshape(meta["shape"]).clone()
    return out


def load(dir_):
    cfg = json.load(open(os.path.join(dir_, "config.json")))
    index = os.path.join(dir_, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    W = {}
    for f in files:
        W.update(read_safetensors(os.path.join(dir_, f)))
    return cfg, W


class Model:
    def __init__(self, cfg, W):
        self.cfg, self.W = cfg, W
        self.d = cfg["hidden_size"]
        self.hq = cfg["num_attention_heads"]
        self.hkv = cfg.get("num_key_value_heads", self.hq)
        self.dh = cfg.get("head_dim") or self.d // self.hq
        self.L = cfg["num_hidden_layers"]
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        theta = cfg.get("rope_theta", 10000.0)
        self.inv = 1.0 / (theta ** (torch.arange(0, self.dh, 2, dtype=torch.float32) / self.dh))
        self.head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
        self.qk_norm = "model.layers.0.self_attn.q_norm.weight" in W

    def params(self):
        return [t for t in self.W.values()]

    def norm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def lin(self, x, name):
        y = x @ self.W[name + ".weight"].T
        b = self.W.get(name + ".bias")
        return y if b is None else y + b

    def forward(self, ids, cache=None):
        B, T = ids.shape
        past = cache[0][0].shape[1] if cache else 0
        pos = torch.arange(past, past + T, dtype=torch.float32)
        fr = pos[:, None] * self.inv
        emb = torch.cat([fr, fr], -1)[None, :, None, :]
        cos, sin = emb.cos(), emb.sin()

        def rope(x):
            x1, x2 = x[..., : self.dh // 2], x[..., self.dh // 2 :]
            return x * cos + torch.cat([-x2, x1], -1) * sin

        h = self.W["model.embed_tokens.weight"][ids]
        for i in range(self.L):
            P = f"model.layers.{i}."
            x = self.norm(h, self.W[P + "input_layernorm.weight"])
            q = self.lin(x, P + "self_attn.q_proj").view(B, T, self.hq, self.dh)
            k = self.lin(x, P + "self_attn.k_proj").view(B, T, self.hkv, self.dh)
            v = self.lin(x, P + "self_attn.v_proj").view(B, T, self.hkv, self.dh)
            if self.qk_norm:
                q = self.norm(q, self.W[P + "self_attn.q_norm.weight"])
                k = self.norm(k, self.W[P + "self_attn.k_norm.weight"])
            q, k = rope(q), rope(k)
            if cache is not None:
                if len(cache) > i:
                    k = torch.cat([cache[i][0], k], 1)
                    v = torch.cat([cache[i][1], v], 1)
                    cache[i] = (k, v)
                else:
                    cache.append((k, v))
            S = k.shape[1]
            rep = self.hq // self.hkv
            kk = k.repeat_interleave(rep, 2).transpose(1, 2)
            vv = v.repeat_interleave(rep, 2).transpose(1, 2)
            scores = (q.transpose(1, 2) @ kk.transpose(-1, -2)) / math.sqrt(self.dh)
            if T > 1:
                allowed = torch.arange(S)[None, :] <= (torch.arange(T)[:, None] + S - T)
                scores = scores.masked_fill(~allowed, float("-inf"))
            a = (scores.softmax(-1) @ vv).transpose(1, 2).reshape(B, T, self.hq * self.dh)
            h = h + self.lin(a, P + "self_attn.o_proj")
            x = self.norm(h, self.W[P + "post_attention_layernorm.weight"])
            g = self.lin(x, P + "mlp.gate_proj")
            h = h + self.lin(torch.nn.functional.silu(g) * self.lin(x, P + "mlp.up_proj"), P + "mlp.down_proj")
        return self.norm(h, self.W["model.norm.weight"])


def openblas_core():
    """The OpenBLAS build and core type torch's matmuls run on (read from the mapped library)."""
    import ctypes
    torch.randn(64, 64) @ torch.randn(64, 64)
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "openblas" in line}
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return f"{lib.openblas_get_config().decode()}; core {lib.openblas_get_corename().decode()}"
        except (OSError, AttributeError):
            continue
    return "BLAS: no OpenBLAS mapped"


def completion_logprobs(model, ids, prompt_len):
    """log p(token | prefix) of each completion token, [B, N]: the head over every position, as HF does."""
    h = model.forward(ids)[:, :-1]
    logits = h @ model.head.T
    lp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return lp[:, prompt_len - 1 :]


def grpo_steps(cfg, W, spec):
    """GRPO steps as the recipe runs them (one update per rollout, so pi_old is the policy
    itself): sample `generations` completions per prompt at temperature 1 with a KV cache;
    group-normalised advantages of the reward (0 for every random completion, as rxrl's
    verifier gives); pi_ref's log-probs without gradient; the clipped surrogate plus the
    k3 KL estimate, token-level mean; backward; clip to norm 1; AdamW. Returns each phase's
    seconds per measured step (after one warm-up step)."""
    P, G, Tp, N = spec["prompts"], spec["generations"], spec["prompt"], spec["new_tokens"]
    kl_coef, eps = spec["kl"], 0.2
    model = Model(cfg, W)
    ref = Model(cfg, {k: v.detach().clone() for k, v in W.items()}) if kl_coef > 0 else None
    for p in model.params():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.params(), lr=1e-6, weight_decay=0.01)
    V = cfg["vocab_size"]
    out = []
    for _ in range(spec.get("iters", 1) + 1):
        prompts = torch.randint(0, V, (P, Tp)).repeat_interleave(G, 0)
        t0 = time.perf_counter()
        with torch.no_grad():
            cache, toks, gen_lp = [], [], []
            h = model.forward(prompts, cache)
            for i in range(N):
                logp = (h[:, -1] @ model.head.T).log_softmax(-1)
                nxt = torch.multinomial(logp.exp(), 1)
                toks.append(nxt)
                gen_lp.append(logp.gather(-1, nxt))
                if i < N - 1:
                    h = model.forward(nxt, cache)
        ids = torch.cat([prompts] + toks, 1)
        rewards = torch.zeros(P, G)
        adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-6)).reshape(-1, 1)
        t1 = time.perf_counter()
        with torch.no_grad():
            ref_lp = completion_logprobs(ref, ids, Tp) if ref is not None else None
        t2 = time.perf_counter()
        lp = completion_logprobs(model, ids, Tp)
        ratio = torch.exp(lp - lp.detach())
        per_token = -torch.min(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)
        if ref_lp is not None:
            d = ref_lp - lp
            per_token = per_token + kl_coef * (torch.exp(d) - d - 1)
        loss = per_token.mean()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.params(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        out.append({"generation": t1 - t0, "logprobs": t2 - t1, "loss_backward": t3 - t2,
                    "optimizer": t4 - t3, "other": 0.0, "total": t4 - t0})
    steps = out[1:]
    return {k: sorted(s[k] for s in steps)[len(steps) // 2] for k in steps[0]}, len(steps)


def main():
    dir_, spec = sys.argv[1], json.loads(sys.argv[2])
    torch.set_num_threads(int(spec.get("threads", os.cpu_count())))
    torch.manual_seed(0)
    t0 = time.perf_counter()
    cfg, W = load(dir_)
    model = Model(cfg, W)
    load_s = time.perf_counter() - t0
    V = cfg["vocab_size"]
    mode = spec["mode"]
    iters = spec.get("iters", 2)
    times = []
    if mode == "grpo":
        del model
        phases, steps = grpo_steps(cfg, W, spec)
        print(json.dumps({
            "side": "pytorch",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "blas": openblas_core(),
            "mode": mode,
            "load_s": load_s,
            "phases": phases,
            "steps": steps,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }))
        return
    if mode == "generate":
        B, P, N = spec["batch"], spec["prompt"], spec["new_tokens"]
        ids = torch.randint(0, V, (B, P))
        with torch.no_grad():
            for _ in range(iters + 1):
                t = time.perf_counter()
                cache = []
                h = model.forward(ids, cache)
                nxt = (h[:, -1] @ model.head.T).argmax(-1, keepdim=True)
                for _ in range(N - 1):
                    h = model.forward(nxt, cache)
                    nxt = (h[:, -1] @ model.head.T).argmax(-1, keepdim=True)
                times.append(time.perf_counter() - t)
        tokens = B * N
    else:
        B, T = spec["batch"], spec["seq"]
        for p in model.params():
            p.requires_grad_(True)
        opt = torch.optim.AdamW(model.params(), lr=1e-5, weight_decay=0.01)
        ids = torch.randint(0, V, (B, T))
        tgt = torch.randint(0, V, (B, T))
        for _ in range(iters + 1):
            t = time.perf_counter()
            h = model.forward(ids).reshape(B * T, -1)
            logits = h @ model.head.T
            loss = torch.nn.functional.cross_entropy(logits, tgt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
        tokens = B * T
    times = sorted(times[1:])
    med = times[len(times) // 2]
    print(json.dumps({
        "side": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": openblas_core(),
        "mode": mode,
        "load_s": load_s,
        "seconds": med,
        "tokens_per_s": tokens / med,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
