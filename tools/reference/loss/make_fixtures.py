"""PyTorch (float64, autograd) reference for @rxrl/loss parity fixtures.

Re-derives NeMo RL's ClippedPGLossFn and TRL's DPO variants from their
published definitions, runs them in float64 with torch autograd, and writes
inputs, losses and gradients to libs/loss/test/fixtures/torch_losses.json.
Run: /usr/bin/python3 tools/reference/loss/make_fixtures.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
D = torch.float64
EPS = 1e-8
B, T = 4, 5


def f32(x):
    return x.to(torch.float32).to(D)


def masked_mean(v, m, n=None, dim=None):
    den = m.sum(dim=dim) if n is None else n
    return (v * m).sum(dim=dim) / (den + EPS)


def calc_kl(lp, lref, kind, inc, outc, w=None):
    """NeMo RL calculate_kl: the weight is detached where the input clamp bites,
    multiplied in before the output clamp."""
    logr = lref - lp
    if inc is not None:
        clamped = logr.clamp(-inc, inc)
        if w is not None:
            w = torch.where(logr == clamped, w, w.detach())
        logr = clamped
    if kind == "k1":
        kl = -logr
    elif kind == "k2":
        kl = logr.square() / 2
    else:
        kl = logr.exp() - 1 - logr
    if w is not None:
        kl = w * kl
    if outc is not None:
        kl = kl.clamp(-outc, outc)
    return kl


PG_DEFAULTS = dict(
    ratio_clip_min=0.2, ratio_clip_max=0.2, ratio_clip_c=None, reference_policy_kl_penalty=0.01,
    reference_policy_kl_type="k3", kl_input_clamp_value=20.0, kl_output_clamp_value=10.0,
    disable_ppo_ratio=False, force_on_policy_ratio=False, token_level_loss=True,
    sequence_level_importance_ratios=False, use_importance_sampling_correction=False,
    truncated_importance_sampling_ratio=None, truncated_importance_sampling_type=None,
    truncated_importance_sampling_ratio_min=None, use_cispo=False,
    use_on_policy_kl_approximation=False, positive_example_nll_weight=0.0,
    use_sapo=False, sapo_temperature_pos=1.0, sapo_temperature_neg=1.05, delta=None,
    off_policy_mask_threshold=None, top_entropy_quantile=1.0,
)


def clipped_pg(c, curr, prev, gen, ref, adv, tm, sm, rewards, ent=None):
    c = {**PG_DEFAULTS, **c}
    mask = tm * sm.unsqueeze(-1)
    n_tok, n_seq = mask.sum(), sm.sum()
    if c["force_on_policy_ratio"]:
        prev = curr.detach()
    agg = c.get("loss_aggregation") or ("dapo" if c["token_level_loss"] else "grpo")
    if agg == "dapo":
        red = lambda x: masked_mean(x, mask, n_tok)
    elif agg == "bnpo":  # TRL: micro-batch token mean
        red = lambda x: (x * mask).sum() / mask.sum().clamp(min=1.0)
    elif agg == "dr_grpo":  # TRL: sum / (rows * max_completion_length)
        red = lambda x: (x * mask).sum() / (x.shape[0] * c["max_completion_length"])
    else:
        red = lambda x: masked_mean(masked_mean(x, tm, dim=-1), sm, n_seq)
    beta = c["reference_policy_kl_penalty"]
    kl = torch.zeros((), dtype=D)
    if beta != 0:
        # score-function weight: exp(x - x.detach()) (value 1) or the on-policy ratio, both differentiated
        w = torch.nan_to_num((curr - gen).exp() if c["use_on_policy_kl_approximation"] else (curr - curr.detach()).exp(), 0.0, 0.0, 0.0)
        kl = red(beta * calc_kl(curr, ref, c["reference_policy_kl_type"], c["kl_input_clamp_value"], c["kl_output_clamp_value"], w))
    if c["force_on_policy_ratio"]:
        ratios = (curr - curr.detach()).exp()
        clamped = ratios
    elif not c["disable_ppo_ratio"]:
        lr = curr - prev
        if c["sequence_level_importance_ratios"]:
            ratios = masked_mean(lr, tm, dim=-1).unsqueeze(-1).exp().repeat(1, T)
        else:
            ratios = lr.exp()
        clamped = ratios.clamp(1 - c["ratio_clip_min"], 1 + c["ratio_clip_max"])
    else:
        ratios = curr
        clamped = curr
    if c["use_cispo"]:
        cl = -adv * clamped.detach() * curr
    elif c["use_sapo"]:
        # SAPO soft gate sigma(tau (r - 1)) * 4 / tau, tau by the sign of the advantage
        tau = torch.where(adv > 0, torch.full_like(adv, c["sapo_temperature_pos"]), torch.full_like(adv, c["sapo_temperature_neg"]))
        cl = -adv * torch.sigmoid(tau * (ratios - 1)) * 4 / tau
    else:
        unclipped = ratios.clamp(max=c["delta"]) if c["delta"] is not None else ratios
        cl = torch.max(-adv * unclipped, -adv * clamped)
    if c["ratio_clip_c"] is not None:
        cl = torch.where(adv < 0, torch.min(cl, -adv * c["ratio_clip_c"]), cl)
    if c["sequence_level_importance_ratios"]:
        w = torch.nan_to_num(((prev - gen) * mask).sum(-1).exp().detach(), 0.0, 0.0, 0.0).unsqueeze(-1)
    else:
        w = torch.nan_to_num((prev - gen).exp(), 0.0, 0.0, 0.0)
    t, hi, lo = c["truncated_importance_sampling_type"], c["truncated_importance_sampling_ratio"], c["truncated_importance_sampling_ratio_min"]
    if t == "tis":
        w = w.clamp(min=lo if lo is not None else 0.0, max=hi)
    elif t == "icepop":
        w = torch.where((w >= lo) & (w <= hi), w, torch.zeros_like(w))
    elif t == "seq-mask-tis":
        g = masked_mean(torch.nan_to_num(prev - gen, 0.0, 0.0, 0.0), tm, dim=-1).exp()
        w = w * ((g >= lo) & (g <= hi)).to(D).unsqueeze(-1)
    per_tok = (w.detach() if c["use_importance_sampling_correction"] else torch.ones_like(cl)) * cl
    if c["top_entropy_quantile"] < 1.0:
        # "Beyond the 80/20 rule": keep valid tokens whose entropy reaches the (1 - rho) quantile
        thr = torch.quantile(ent[mask > 0], 1 - c["top_entropy_quantile"])
        per_tok = per_tok * ((ent >= thr) & (mask > 0)).to(D)
    if c["off_policy_mask_threshold"] is not None:
        # DeepSeek-V3.2 off-policy sequence masking on log(pi_gen / pi)
        seq_kl = masked_mean(gen - curr.detach(), tm, dim=-1).unsqueeze(-1)
        keep = ((adv >= 0) | (seq_kl <= c["off_policy_mask_threshold"])).to(D)
        per_tok = per_tok * keep
    actor = red(per_tok)
    nll = torch.zeros((), dtype=D)
    if c["positive_example_nll_weight"] > 0:
        pm = mask * (rewards > 0).to(D).unsqueeze(-1)
        nll = masked_mean(-curr, pm, pm.sum())
    return actor + kl + c["positive_example_nll_weight"] * nll


def dpo(c, pc, pr, rc, rr, lc, lr_):
    beta, ls = c["beta"], c.get("label_smoothing", 0.0)
    clr, rlr = pc - rc, pr - rr
    f = c.get("f_divergence_type", "reverse_kl")
    a = c.get("f_alpha_divergence_coef", 1.0)
    if f == "forward_kl":
        cs, rs = -(-clr).exp(), -(-rlr).exp()
    elif f == "js_divergence":
        cs, rs = F.logsigmoid(clr), F.logsigmoid(rlr)
    elif f == "alpha_divergence":
        cs, rs = ((a - 1) * clr).clamp(max=80).exp() / (a - 1), ((a - 1) * rlr).clamp(max=80).exp() / (a - 1)
    else:
        cs, rs = clr, rlr
    d = cs - rs
    t = c["loss_type"]
    if t == "sigmoid":
        l = -F.logsigmoid(beta * d) * (1 - ls) - F.logsigmoid(-beta * d) * ls
    elif t == "hinge":
        l = torch.relu(1 - beta * d)
    elif t == "ipo":
        l = (cs / lc - rs / lr_ - 1 / (2 * beta)) ** 2
    elif t == "exo_pair":
        e = torch.tensor(ls, dtype=D)
        l = torch.sigmoid(beta * d) * (F.logsigmoid(beta * d) - torch.log1p(-e)) + torch.sigmoid(-beta * d) * (F.logsigmoid(-beta * d) - torch.log(e))
    elif t == "nca_pair":
        l = -F.logsigmoid(beta * cs) - 0.5 * F.logsigmoid(-beta * cs) - 0.5 * F.logsigmoid(-beta * rs)
    elif t == "robust":
        l = (-(1 - ls) * F.logsigmoid(beta * d) + ls * F.logsigmoid(-beta * d)) / (1 - 2 * ls)
    elif t == "bco_pair":
        m = torch.cat((beta * cs, beta * rs)).mean().detach()  # fresh running mean: first update gives the batch mean
        l = -F.logsigmoid(beta * cs - m) - F.logsigmoid(-(beta * rs - m))
    elif t == "sppo_hard":
        l = (cs - 0.5 / beta) ** 2 + (rs + 0.5 / beta) ** 2
    elif t == "aot":
        dd = torch.sort(pc - pr)[0] - torch.sort(rc - rr)[0]
        l = -F.logsigmoid(beta * dd) * (1 - ls) - F.logsigmoid(-beta * dd) * ls
    elif t == "aot_unpaired":
        dd = torch.sort(clr)[0] - torch.sort(rlr)[0]
        l = -F.logsigmoid(beta * dd) * (1 - ls) - F.logsigmoid(-beta * dd) * ls
    elif t == "apo_zero":
        l = 1 - torch.sigmoid(beta * clr) + torch.sigmoid(beta * rlr)
    elif t == "apo_down":
        l = torch.sigmoid(beta * clr) + 1 - torch.sigmoid(beta * d)
    elif t == "discopop":
        lg = beta * d
        mod = torch.sigmoid(lg / c.get("discopop_tau", 0.05))
        l = -F.logsigmoid(lg) * (1 - mod) + (-lg).exp() * mod
    elif t == "sigmoid_norm":
        l = -F.logsigmoid(beta * (cs / lc - rs / lr_))
    return l  # per pair (TRL's unreduced losses); the loss is their mean


def lists(x):
    return x.detach().tolist()


out = {"clipped_pg": [], "dpo": []}
curr0 = f32(torch.rand(B, T, dtype=D) * -2.8 - 0.2)
prev = f32(curr0 + (torch.rand(B, T, dtype=D) - 0.5) * 0.9)
gen = f32(prev + (torch.rand(B, T, dtype=D) - 0.5) * 0.3)
ref = f32(curr0 + (torch.rand(B, T, dtype=D) - 0.5) * 1.2)
tm = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=D)
sm = torch.tensor([1, 1, 0, 1], dtype=D)
rewards = torch.tensor([1.0, 0.0, 1.0, 0.5], dtype=D)
adv_seq = torch.tensor([1.5, -0.7, 0.9, -2.1], dtype=D)
adv_tok = f32((torch.rand(B, T, dtype=D) - 0.5) * 6)
ent = f32(torch.rand(B, T, dtype=D) * 3)
pg_cases = [
    ("default", {}, False),
    ("sequence-level loss, k1, asymmetric clip", dict(token_level_loss=False, reference_policy_kl_type="k1", ratio_clip_min=0.1, ratio_clip_max=0.3), False),
    ("dual clip, per-token advantages", dict(ratio_clip_c=3.0, reference_policy_kl_penalty=0.0), True),
    ("REINFORCE", dict(disable_ppo_ratio=True, reference_policy_kl_penalty=0.05, reference_policy_kl_type="k2"), False),
    ("force_on_policy_ratio", dict(force_on_policy_ratio=True, reference_policy_kl_penalty=0.1), False),
    ("GSPO", dict(sequence_level_importance_ratios=True, token_level_loss=False, ratio_clip_min=0.05, ratio_clip_max=0.05), False),
    ("tis", dict(use_importance_sampling_correction=True, truncated_importance_sampling_type="tis", truncated_importance_sampling_ratio=1.05), False),
    ("tis with ratio_min", dict(use_importance_sampling_correction=True, truncated_importance_sampling_type="tis", truncated_importance_sampling_ratio=1.05, truncated_importance_sampling_ratio_min=0.95), False),
    ("icepop", dict(use_importance_sampling_correction=True, truncated_importance_sampling_type="icepop", truncated_importance_sampling_ratio=1.1, truncated_importance_sampling_ratio_min=0.9), False),
    ("seq-mask-tis", dict(use_importance_sampling_correction=True, truncated_importance_sampling_type="seq-mask-tis", truncated_importance_sampling_ratio=1.02, truncated_importance_sampling_ratio_min=0.98), False),
    ("CISPO", dict(use_cispo=True, ratio_clip_max=0.28), False),
    ("on-policy KL approximation with clamps", dict(use_on_policy_kl_approximation=True, reference_policy_kl_penalty=0.2, reference_policy_kl_type="k2", kl_input_clamp_value=0.3, kl_output_clamp_value=0.03), False),
    ("VAPO positive NLL", dict(positive_example_nll_weight=0.5), False),
    ("SAPO (grpo reduction)", dict(use_sapo=True, loss_aggregation="grpo"), False),
    ("SAPO, per-token advantages", dict(use_sapo=True, sapo_temperature_pos=3.0, sapo_temperature_neg=2.0, reference_policy_kl_penalty=0.0), True),
    ("two-sided clip delta", dict(delta=1.3, reference_policy_kl_penalty=0.0), True),
    ("off-policy sequence masking", dict(off_policy_mask_threshold=0.02), False),
    ("top_entropy_quantile 0.4", dict(top_entropy_quantile=0.4), False),
    ("TRL bnpo", dict(loss_aggregation="bnpo"), False),
    ("TRL dr_grpo", dict(loss_aggregation="dr_grpo", max_completion_length=8), False),
    ("TRL grpo", dict(loss_aggregation="grpo", reference_policy_kl_type="k2"), False),
]
for name, cfg, per_tok in pg_cases:
    curr = curr0.clone().requires_grad_(True)
    adv = adv_tok if per_tok else adv_seq.unsqueeze(-1)
    loss = clipped_pg(cfg, curr, prev, gen, ref, adv, tm, sm, rewards, ent)
    (g,) = torch.autograd.grad(loss, curr)
    out["clipped_pg"].append(dict(name=name, options=cfg, per_token_advantages=per_tok, loss=loss.item(), grad=lists(g)))
out["pg_inputs"] = dict(entropies=lists(ent), curr=lists(curr0), prev=lists(prev), gen=lists(gen), ref=lists(ref), token_mask=lists(tm), sample_mask=lists(sm), rewards=lists(rewards), adv_seq=lists(adv_seq), adv_tok=lists(adv_tok))

pc0 = f32(torch.rand(B, dtype=D) * -4 - 2)
pr0 = f32(torch.rand(B, dtype=D) * -4 - 3)
rc = f32(torch.rand(B, dtype=D) * -4 - 2)
rr = f32(torch.rand(B, dtype=D) * -4 - 2)
lc = torch.tensor([3.0, 5.0, 2.0, 4.0], dtype=D)
lr_ = torch.tensor([4.0, 2.0, 6.0, 3.0], dtype=D)
types = ["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm"]
dpo_cases = [dict(loss_type=t, beta=0.3, label_smoothing=0.1 if t in ("exo_pair", "robust", "aot", "aot_unpaired", "sigmoid") else 0.0) for t in types]
dpo_cases += [dict(loss_type="sigmoid", beta=0.2, f_divergence_type=f, f_alpha_divergence_coef=0.5) for f in ("forward_kl", "js_divergence", "alpha_divergence")]
for cfg in dpo_cases:
    pc = pc0.clone().requires_grad_(True)
    pr = pr0.clone().requires_grad_(True)
    per_pair = dpo(cfg, pc, pr, rc, rr, lc, lr_)
    loss = per_pair.mean()
    gc, gr = torch.autograd.grad(loss, (pc, pr))
    # TRL's per-sample outputs: losses, β-scaled implicit rewards (of the plain log-ratios), policy log-probs
    per = dict(loss=lists(per_pair), chosen_rewards=lists(cfg["beta"] * (pc - rc)), rejected_rewards=lists(cfg["beta"] * (pr - rr)), chosen_logps=lists(pc), rejected_logps=lists(pr))
    out["dpo"].append(dict(options=cfg, loss=loss.item(), grad_chosen=lists(gc), grad_rejected=lists(gr), per_pair=per))
out["dpo_inputs"] = dict(pc=lists(pc0), pr=lists(pr0), rc=lists(rc), rr=lists(rr), len_chosen=lists(lc), len_rejected=lists(lr_))
out["generator"] = "tools/reference/loss/make_fixtures.py, torch " + torch.__version__ + ", float64 autograd"

dest = os.path.join(os.path.dirname(__file__), "../../../libs/loss/test/fixtures/torch_losses.json")
os.makedirs(os.path.dirname(dest), exist_ok=True)
with open(dest, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.normpath(dest), len(out["clipped_pg"]), "clipped-PG cases,", len(out["dpo"]), "DPO cases")
