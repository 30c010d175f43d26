#!/usr/bin/python3
"""Independent PyTorch reference for @rxrl/model: Llama, Qwen2, Qwen3 and GPT-2.

Written from the papers and the Hugging Face semantics (config.json keys,
weight names, RMSNorm / rotate-half RoPE / Llama-3 rope_scaling / GQA /
tanh-GELU), without importing `transformers` or `safetensors`. Computes in
float64 so the expected logits are the exact function of the stored weights.

For each architecture it writes libs/model/test/fixtures/<arch>/:
  config.json                HF config
  model.safetensors          float32 weights (qwen3: two bf16 shards + model.safetensors.index.json)
  inputs.json                input_ids / attention_mask, unpadded and left-padded
  expected.safetensors       logits [B,T,V] for both inputs (float32)

Run:  /usr/bin/python3 tools/reference/models.py
"""
import json
import math
import os
import struct
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "libs", "model", "test", "fixtures")

# --------------------------------------------------------------------------- configs

VOCAB = 96
CONFIGS = {
    # untied head, Llama-3 rope scaling with all three frequency bands in use
    "llama": dict(
        model_type="llama", vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=64),
        tie_word_embeddings=False, hidden_act="silu", initializer_range=0.02,
        attention_bias=False, mlp_bias=False,
    ),
    # q/k/v biases, tied head
    "qwen2": dict(
        model_type="qwen2", vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=1000000.0,
        tie_word_embeddings=True, hidden_act="silu", initializer_range=0.02,
    ),
    # q/k RMSNorm, head_dim != hidden/heads; stored as bf16 in two shards
    "qwen3": dict(
        model_type="qwen3", vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=1000000.0,
        tie_word_embeddings=False, hidden_act="silu", initializer_range=0.02,
        attention_bias=False,
    ),
    # Conv1D [in,out] weights, learned positions, tied head; n_inner null -> 4*n_embd
    "gpt2": dict(
        model_type="gpt2", vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_inner=None,
        n_positions=32, activation_function="gelu_new", layer_norm_epsilon=1e-5,
        initializer_range=0.02,
    ),
}

# --------------------------------------------------------------------------- weights


def make_weights(cfg, gen):
    """Random weights, larger than the usual init so every term moves the logits."""
    def w(*shape, std=0.2):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * std

    def norm(n):
        return 1.0 + w(n, std=0.1)

    W = {}
    if cfg["model_type"] == "gpt2":
        d, inner = cfg["n_embd"], cfg["n_inner"] or 4 * cfg["n_embd"]
        W["wte.weight"] = w(cfg["vocab_size"], d, std=0.5)
        W["wpe.weight"] = w(cfg["n_positions"], d, std=0.3)
        for i in range(cfg["n_layer"]):
            p = f"h.{i}."
            W[p + "ln_1.weight"], W[p + "ln_1.bias"] = norm(d), w(d, std=0.1)
            W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"] = w(d, 3 * d), w(3 * d, std=0.1)
            W[p + "attn.c_proj.weight"], W[p + "attn.c_proj.bias"] = w(d, d), w(d, std=0.1)
            W[p + "ln_2.weight"], W[p + "ln_2.bias"] = norm(d), w(d, std=0.1)
            W[p + "mlp.c_fc.weight"], W[p + "mlp.c_fc.bias"] = w(d, inner), w(inner, std=0.1)
            W[p + "mlp.c_proj.weight"], W[p + "mlp.c_proj.bias"] = w(inner, d, std=0.1), w(d, std=0.1)
        W["ln_f.weight"], W["ln_f.bias"] = norm(d), w(d, std=0.1)
        return W
    d, inter = cfg["hidden_size"], cfg["intermediate_size"]
    hq, hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh = cfg.get("head_dim") or d // hq
    t = cfg["model_type"]
    qkv_bias = t == "qwen2" or cfg.get("attention_bias", False)
    o_bias = t != "qwen2" and cfg.get("attention_bias", False)
    W["model.embed_tokens.weight"] = w(cfg["vocab_size"], d, std=0.5)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = norm(d)
        W[p + "self_attn.q_proj.weight"] = w(hq * dh, d)  # HF nn.Linear layout [out, in]
        W[p + "self_attn.k_proj.weight"] = w(hkv * dh, d)
        W[p + "self_attn.v_proj.weight"] = w(hkv * dh, d)
        W[p + "self_attn.o_proj.weight"] = w(d, hq * dh)
        if qkv_bias:
            W[p + "self_attn.q_proj.bias"] = w(hq * dh, std=0.1)
            W[p + "self_attn.k_proj.bias"] = w(hkv * dh, std=0.1)
            W[p + "self_attn.v_proj.bias"] = w(hkv * dh, std=0.1)
        if o_bias:
            W[p + "self_attn.o_proj.bias"] = w(d, std=0.1)
        if t == "qwen3":
            W[p + "self_attn.q_norm.weight"] = norm(dh)
            W[p + "self_attn.k_norm.weight"] = norm(dh)
        W[p + "post_attention_layernorm.weight"] = norm(d)
        W[p + "mlp.gate_proj.weight"] = w(inter, d)
        W[p + "mlp.up_proj.weight"] = w(inter, d)
        W[p + "mlp.down_proj.weight"] = w(d, inter, std=0.1)
    W["model.norm.weight"] = norm(d)
    if not cfg.get("tie_word_embeddings", False):
        W["lm_head.weight"] = w(cfg["vocab_size"], d, std=0.3)
    return W

# --------------------------------------------------------------------------- model


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def layer_norm(x, gamma, beta, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def inv_frequencies(dh, theta, scaling):
    inv = 1.0 / theta ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh)
    if scaling is None:
        return inv
    # Llama 3.1: keep high frequencies, divide low ones by `factor`, interpolate between.
    factor, lo, hi = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    out = torch.where(wavelen > old / lo, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    medium = (wavelen >= old / hi) & (wavelen <= old / lo)
    return torch.where(medium, (1 - smooth) * inv / factor + smooth * inv, out)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def attend(q, k, v, mask):
    """q [B,T,Hq,Dh], k/v [B,T,Hkv,Dh]; causal + key padding mask; GQA by repeating kv heads."""
    B, T, hq, dh = q.shape
    rep = hq // k.shape[2]
    k = k.repeat_interleave(rep, dim=2)
    v = v.repeat_interleave(rep, dim=2)
    scores = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(dh)
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None] & mask.bool()[:, None, None, :]
    scores = scores.masked_fill(~allowed, -1e9)
    return torch.einsum("bhts,bshd->bthd", scores.softmax(-1), v)


def positions_from_mask(mask):
    return (mask.cumsum(-1) - 1).clamp(min=0)


def forward(cfg, W, ids, mask):
    """Logits [B,T,V] in float64."""
    B, T = ids.shape
    pos = positions_from_mask(mask)
    if cfg["model_type"] == "gpt2":
        d, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
        dh = d // nh
        h = W["wte.weight"][ids] + W["wpe.weight"][pos]
        for i in range(cfg["n_layer"]):
            p = f"h.{i}."
            x = layer_norm(h, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
            qkv = x @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: x @ W[in,out]
            q, k, v = (t.reshape(B, T, nh, dh) for t in qkv.split(d, dim=-1))
            a = attend(q, k, v, mask).reshape(B, T, d)
            h = h + a @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
            x = layer_norm(h, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
            m = gelu_tanh(x @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
            h = h + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
        h = layer_norm(h, W["ln_f.weight"], W["ln_f.bias"], eps)
        return h @ W["wte.weight"].T

    d, hq, hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh = cfg.get("head_dim") or d // hq
    eps = cfg["rms_norm_eps"]
    inv = inv_frequencies(dh, cfg["rope_theta"], cfg.get("rope_scaling"))
    freqs = pos.to(torch.float64)[..., None] * inv  # [B,T,Dh/2]
    emb = torch.cat([freqs, freqs], dim=-1)[:, :, None, :]  # broadcast over heads
    cos, sin = emb.cos(), emb.sin()

    def lin(x, name):
        y = x @ W[name + ".weight"].T  # nn.Linear: y = x W^T + b
        return y + W[name + ".bias"] if name + ".bias" in W else y

    h = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms_norm(h, W[p + "input_layernorm.weight"], eps)
        q = lin(x, p + "self_attn.q_proj").reshape(B, T, hq, dh)
        k = lin(x, p + "self_attn.k_proj").reshape(B, T, hkv, dh)
        v = lin(x, p + "self_attn.v_proj").reshape(B, T, hkv, dh)
        if cfg["model_type"] == "qwen3":
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = attend(q, k, v, mask).reshape(B, T, hq * dh)
        h = h + lin(a, p + "self_attn.o_proj")
        x = rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
        gate, up = lin(x, p + "mlp.gate_proj"), lin(x, p + "mlp.up_proj")
        h = h + lin(gate * torch.sigmoid(gate) * up, p + "mlp.down_proj")
    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return h @ head.T

# --------------------------------------------------------------------------- safetensors by hand


def tensor_bytes(t, dtype):
    if dtype == "F32":
        return t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype="F32"):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def stored_value(t, dtype):
    """What a reader gets back from the file, as float64."""
    return t.to(torch.float32 if dtype == "F32" else torch.bfloat16).to(torch.float64)

# --------------------------------------------------------------------------- fixtures


def make_inputs(gen, vocab, B=2, T=7, pad=3):
    ids = torch.randint(0, vocab, (B, T), generator=gen)
    mask = torch.ones(B, T, dtype=torch.long)
    # row 0 left-padded by `pad` (pad id vocab-1 must be ignored), row 1 full
    pids = ids.clone()
    pids[0, pad:] = ids[0, : T - pad]
    pids[0, :pad] = vocab - 1
    pmask = mask.clone()
    pmask[0, :pad] = 0
    return ids, mask, pids, pmask


def build(arch, seed):
    cfg = CONFIGS[arch]
    gen = torch.Generator().manual_seed(seed)
    W = make_weights(cfg, gen)
    d = os.path.join(OUT, arch)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    dtype = "BF16" if arch == "qwen3" else "F32"
    W = {k: stored_value(v, dtype) for k, v in W.items()}
    if arch == "qwen3":
        names = list(W)
        shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
                  "model-00002-of-00002.safetensors": names[len(names) // 2:]}
        weight_map = {}
        for shard, keys in shards.items():
            write_safetensors(os.path.join(d, shard), {k: W[k] for k in keys}, "BF16")
            weight_map.update({k: shard for k in keys})
        total = sum(2 * v.numel() for v in W.values())
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    else:
        stored = dict(W)
        if arch == "gpt2":
            # real GPT-2 checkpoints also carry the causal-mask buffers, which a loader must skip
            n = cfg["n_positions"]
            for i in range(cfg["n_layer"]):
                stored[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n, dtype=torch.float64))[None, None]
        write_safetensors(os.path.join(d, "model.safetensors"), stored)

    ids, mask, pids, pmask = make_inputs(gen, cfg["vocab_size"])
    logits = forward(cfg, W, ids, mask)
    plogits = forward(cfg, W, pids, pmask)
    # sanity: left padding must not change the real tokens' logits
    pad = int((pmask[0] == 0).sum())
    gap = (plogits[0, pad:] - forward(cfg, W, ids[:1, : ids.shape[1] - pad], mask[:1, : ids.shape[1] - pad])[0]).abs().max()
    assert gap < 1e-9, f"{arch}: padding changed logits by {gap}"
    with open(os.path.join(d, "inputs.json"), "w") as f:
        json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                   "padded_input_ids": pids.tolist(), "padded_attention_mask": pmask.tolist()}, f)
    write_safetensors(os.path.join(d, "expected.safetensors"), {"logits": logits, "padded_logits": plogits})
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{arch}: {size / 1024:.1f} KiB, logits absmax {logits.abs().max():.3f}")


if __name__ == "__main__":
    archs = sys.argv[1:] or list(CONFIGS)
    for i, arch in enumerate(["llama", "qwen2", "qwen3", "gpt2"]):
        if arch in archs:
            build(arch, 1000 + i)
