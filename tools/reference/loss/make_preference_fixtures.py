"""PyTorch (float64, autograd) reference for @rxrl/loss's reference-free and
unpaired preference objectives (ORPO, CPO / SimPO, KTO), DFT for SFT and GKD's
generalised JSD.

Each loss is re-derived from its paper and TRL's documented definitions
(ORPO: Hong et al. 2024, arXiv 2403.07691; CPO: Xu et al. 2024, arXiv
2401.08417; SimPO: Meng et al. 2024, arXiv 2405.14734; KTO: Ethayarajh et al.
2024, arXiv 2402.01306; DFT: Wu et al. 2025, arXiv 2508.05629), written here independently of the TypeScript code,
and evaluated in float64 with torch autograd. Writes inputs, losses, metrics
and gradients to libs/loss/test/fixtures/torch_preference.json.
Run: /usr/bin/python3 tools/reference/loss/make_preference_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(17)
D = torch.float64
EPS = 1e-8
B, T = 4, 5


def f32(x):
    return x.to(torch.float32).to(D)


def lists(x):
    return x.detach().tolist()


def seq(lp, m):
    s = (lp * m).sum(-1)
    n = m.sum(-1).clamp(min=1.0)
    return s, n, s / n


def nll_chosen(lp_c, m_c, sm):
    # token mean of -log p over the chosen responses of valid pairs
    mm = m_c * sm.unsqueeze(-1)
    return -(lp_c * mm).sum() / (mm.sum() + EPS)


def pair_mean(v, sm):
    return (v * sm).sum() / (sm.sum() + EPS)


def orpo(c, lp_c, lp_r, m_c, m_r, sm):
    _, _, ca = seq(lp_c, m_c)
    _, _, ra = seq(lp_r, m_r)
    log_odds = (ca - ra) - (torch.log1p(-torch.exp(ca)) - torch.log1p(-torch.exp(ra)))
    ratio = F.logsigmoid(log_odds)
    loss = nll_chosen(lp_c, m_c, sm) - c["beta"] * pair_mean(ratio, sm)
    return loss, dict(
        log_odds_ratio=pair_mean(ratio, sm).item(),
        log_odds_chosen=pair_mean(log_odds, sm).item(),
        accuracy=pair_mean((ca > ra).to(D), sm).item(),
    )


def cpo(c, lp_c, lp_r, m_c, m_r, sm):
    c = {**dict(beta=0.1, loss_type="sigmoid", label_smoothing=0.0, cpo_alpha=1.0, simpo_gamma=0.5), **c}
    cs, _, ca = seq(lp_c, m_c)
    rs, _, ra = seq(lp_r, m_r)
    avg = c["loss_type"] in ("ipo", "simpo")
    x, y = (ca, ra) if avg else (cs, rs)
    d = x - y
    b, e = c["beta"], c["label_smoothing"]
    if c["loss_type"] == "sigmoid":
        l = -F.logsigmoid(b * d) * (1 - e) - F.logsigmoid(-b * d) * e
    elif c["loss_type"] == "hinge":
        l = torch.relu(1 - b * d)
    elif c["loss_type"] == "ipo":
        l = (d - 1 / (2 * b)) ** 2
    else:  # simpo: margin gamma on the length-normalised reward beta * d
        z = b * d - c["simpo_gamma"]
        l = -F.logsigmoid(z) * (1 - e) - F.logsigmoid(-z) * e
    loss = pair_mean(l, sm) + c["cpo_alpha"] * nll_chosen(lp_c, m_c, sm)
    return loss, dict(
        preference_loss=pair_mean(l, sm).item(),
        reward_margin=(b * pair_mean(d, sm)).item(),
        accuracy=pair_mean((x > y).to(D), sm).item(),
    )


def kto(c, lp, ref, m, desirable, sm, kl_lp, kl_ref, kl_m):
    c = {**dict(beta=0.1, loss_type="kto", desirable_weight=1.0, undesirable_weight=1.0), **c}
    lr = seq(lp, m)[0] - seq(ref, m)[0]
    b = c["beta"]
    if c["loss_type"] == "kto":
        # KL estimate from mismatched completions: batch mean, clamped at 0, no gradient
        kl = (seq(kl_lp, kl_m)[0] - seq(kl_ref, kl_m)[0]).mean().clamp(min=0).detach()
        good = 1 - torch.sigmoid(b * (lr - kl))
        bad = 1 - torch.sigmoid(b * (kl - lr))
    else:  # apo_zero_unpaired
        kl = torch.zeros((), dtype=D)
        good = 1 - torch.sigmoid(b * lr)
        bad = torch.sigmoid(b * lr)
    per = torch.where(desirable > 0, c["desirable_weight"] * good, c["undesirable_weight"] * bad)
    loss = (per * sm).sum() / (sm.sum() + EPS)
    return loss, dict(kl=kl.item())


out = {}
mask_c = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=D)
mask_r = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=D)
sm = torch.tensor([1, 1, 0, 1], dtype=D)
lp_c0 = f32(-torch.rand(B, T, dtype=D) * 1.2 - 0.05)
lp_r0 = f32(-torch.rand(B, T, dtype=D) * 1.6 - 0.05)
out["pair_inputs"] = dict(chosen=lists(lp_c0), rejected=lists(lp_r0), chosen_mask=lists(mask_c), rejected_mask=lists(mask_r), sample_mask=lists(sm))

cases = [("orpo", dict(beta=0.1)), ("orpo", dict(beta=0.5))]
cases += [("cpo", dict(loss_type=t, beta=0.2)) for t in ("sigmoid", "hinge", "ipo", "simpo")]
cases += [("cpo", dict(loss_type="sigmoid", beta=0.3, label_smoothing=0.1, cpo_alpha=0.5))]
cases += [("cpo", dict(loss_type="simpo", beta=2.0, simpo_gamma=1.0, cpo_alpha=0.0, label_smoothing=0.05))]
out["pair"] = []
for name, cfg in cases:
    a = lp_c0.clone().requires_grad_(True)
    b_ = lp_r0.clone().requires_grad_(True)
    fn = orpo if name == "orpo" else cpo
    loss, metrics = fn(cfg, a, b_, mask_c, mask_r, sm)
    gc, gr = torch.autograd.grad(loss, (a, b_))
    out["pair"].append(dict(loss_fn=name, options=cfg, loss=loss.item(), metrics=metrics, grad_chosen=lists(gc), grad_rejected=lists(gr)))

N = 6
m_u = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=D)
lp_u0 = f32(-torch.rand(N, T, dtype=D) * 1.5 - 0.05)
ref_u = f32(lp_u0 + (torch.rand(N, T, dtype=D) - 0.5) * 0.8)
desirable = torch.tensor([1, 0, 1, 1, 0, 0], dtype=D)
sm_u = torch.tensor([1, 1, 1, 0, 1, 1], dtype=D)
kl_lp = f32(-torch.rand(N, T, dtype=D) * 1.5 - 0.05)
kl_ref = f32(kl_lp - torch.rand(N, T, dtype=D) * 0.3)  # policy above the reference: KL > 0
kl_m = m_u.roll(1, 0)
out["kto_inputs"] = dict(logps=lists(lp_u0), ref=lists(ref_u), mask=lists(m_u), desirable=lists(desirable), sample_mask=lists(sm_u), kl_logps=lists(kl_lp), kl_ref=lists(kl_ref), kl_mask=lists(kl_m))
out["kto"] = []
for cfg in [dict(beta=0.1), dict(beta=0.5, desirable_weight=1.33, undesirable_weight=0.8), dict(beta=0.3, loss_type="apo_zero_unpaired")]:
    a = lp_u0.clone().requires_grad_(True)
    loss, metrics = kto(cfg, a, ref_u, m_u, desirable, sm_u, kl_lp, kl_ref, kl_m)
    (g,) = torch.autograd.grad(loss, a)
    out["kto"].append(dict(options=cfg, loss=loss.item(), metrics=metrics, grad=lists(g)))
# DFT: token NLL weighted by the token's own (detached) probability, global token mean
sm_d = torch.tensor([1, 1, 0, 1], dtype=D)
lp_d = lp_c0.clone().requires_grad_(True)
mm = mask_c * sm_d.unsqueeze(-1)
dft = -(lp_d.exp().detach() * lp_d * mm).sum() / (mm.sum() + EPS)
(g,) = torch.autograd.grad(dft, lp_d)
out["dft"] = dict(logps=lists(lp_c0), mask=lists(mask_c), sample_mask=lists(sm_d), loss=dft.item(), grad=lists(g))
# GKD generalised JSD (Agarwal et al. 2024, arXiv 2306.13649): beta-skewed mixture of the
# softened student and teacher distributions; kl(p, q) = sum_v p_v (log p_v - log q_v)
def kl_rows(lp, lq):
    return (lp.exp() * (lp - lq)).sum(-1)


def gjsd(c, s_logits, t_logits, m):
    b, tau = c["beta"], c.get("temperature", 1.0)
    s = F.log_softmax(s_logits / tau, -1)
    t = F.log_softmax(t_logits / tau, -1)
    if b == 0:
        per = kl_rows(t, s)
    elif b == 1:
        per = kl_rows(s, t)
    else:
        mix = torch.logsumexp(torch.stack([s + torch.log(torch.tensor(1 - b, dtype=D)), t + torch.log(torch.tensor(b, dtype=D))]), 0)
        per = b * kl_rows(t, mix) + (1 - b) * kl_rows(s, mix)
    return (per * m).sum() / (m.sum() + EPS)


NV, V = 6, 7
s_logits0 = f32(torch.randn(NV, V, dtype=D) * 1.5)
t_logits = f32(torch.randn(NV, V, dtype=D) * 1.5)
g_mask = torch.tensor([1, 1, 0, 1, 1, 1], dtype=D)
out["gkd_inputs"] = dict(student=lists(s_logits0), teacher=lists(t_logits), mask=lists(g_mask))
out["gkd"] = []
for cfg in [dict(beta=0.0), dict(beta=1.0), dict(beta=0.5), dict(beta=0.3, temperature=2.0)]:
    x = s_logits0.clone().requires_grad_(True)
    loss = gjsd(cfg, x, t_logits, g_mask)
    (g,) = torch.autograd.grad(loss, x)
    out["gkd"].append(dict(options=cfg, loss=loss.item(), grad=lists(g)))
out["generator"] = "tools/reference/loss/make_preference_fixtures.py, torch " + torch.__version__ + ", float64 autograd"

dest = os.path.join(os.path.dirname(__file__), "../../../libs/loss/test/fixtures/torch_preference.json")
with open(dest, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.normpath(dest), len(out["pair"]), "pair cases,", len(out["kto"]), "KTO cases, 1 DFT case,", len(out["gkd"]), "GKD cases")
