"""Parity fixtures for @rxrl/optimizer from PyTorch's own optimizers and LR schedulers.

Three named parameters of different shapes receive fixed gradients for STEPS steps;
after every step the parameters (and the learning rate used) are recorded. Math is
done in float64 so the fixture is the exact answer the float32 TypeScript code must
approach; inputs are float32-representable so both sides start from the same numbers.

Run with Debian's python (torch 1.13):  /usr/bin/python3 tools/reference/optimizer/adamw_fixture.py
Writes libs/optimizer/test/fixtures/optimizer_parity.json.
"""
import json
import math
import os

import numpy as np
import torch

STEPS = 6
SHAPES = {"embed.weight": (4, 3), "layer.norm.weight": (3,), "head.bias": (2, 2)}
OUT = os.path.join(os.path.dirname(__file__), "../../../libs/optimizer/test/fixtures/optimizer_parity.json")


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def initial_params():
    out = {}
    for k, (name, shape) in enumerate(SHAPES.items()):
        n = int(np.prod(shape))
        out[name] = f32(np.cos(np.arange(n) * 0.7 + k) * (0.5 + 0.25 * k)).reshape(shape)
    return out


def gradients():
    """Fixed gradients per step, of mixed sign and scale (one parameter gets tiny ones)."""
    steps = []
    for t in range(STEPS):
        g = {}
        for k, (name, shape) in enumerate(SHAPES.items()):
            n = int(np.prod(shape))
            scale = 1e-3 if name == "head.bias" else 1.0
            g[name] = f32(np.sin(np.arange(n) * 1.3 + 0.9 * t + 2 * k) * scale * (1 + 0.1 * t)).reshape(shape)
        steps.append(g)
    return steps


def no_decay(name):
    return name.endswith(".bias") or ".norm." in name


def run(make_opt, make_sched=None, groups=False):
    init = initial_params()
    params = {n: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for n, v in init.items()}
    if groups:
        decay = [p for n, p in params.items() if not no_decay(n)]
        nodecay = [p for n, p in params.items() if no_decay(n)]
        opt = make_opt([{"params": decay}, {"params": nodecay, "weight_decay": 0.0}])
    else:
        opt = make_opt(list(params.values()))
    sched = make_sched(opt) if make_sched else None
    lrs, after = [], []
    for g in gradients():
        lrs.append(opt.param_groups[0]["lr"])
        for n, p in params.items():
            p.grad = torch.tensor(g[n], dtype=torch.float64)
        opt.step()
        if sched:
            sched.step()
        after.append({n: p.detach().numpy().reshape(-1).tolist() for n, p in params.items()})
    return {"lrs": lrs, "params_after": after}


def nemo_chain(opt):
    # NeMo RL policy.scheduler: LinearLR warmup, then ConstantLR, switched at the milestone
    s1 = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=2)
    s2 = torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
    return torch.optim.lr_scheduler.SequentialLR(opt, schedulers=[s1, s2], milestones=[2])


def schedule_lrs(make_sched, n):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=1e-2)
    sched = make_sched(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def main():
    torch.set_default_dtype(torch.float64)
    init = initial_params()
    lr, betas, eps, wd = 1e-2, (0.9, 0.999), 1e-8, 0.1
    fixture = {
        "torch_version": torch.__version__,
        "steps": STEPS,
        "shapes": {n: list(s) for n, s in SHAPES.items()},
        "initial": {n: v.reshape(-1).tolist() for n, v in init.items()},
        "grads": [{n: v.reshape(-1).tolist() for n, v in g.items()} for g in gradients()],
        "hyper": {"lr": lr, "betas": list(betas), "eps": eps, "weight_decay": wd},
        "cases": {
            "adamw": run(lambda p: torch.optim.AdamW(p, lr=lr, betas=betas, eps=eps, weight_decay=wd)),
            "adamw_no_decay_groups": run(
                lambda p: torch.optim.AdamW(p, lr=lr, betas=betas, eps=eps, weight_decay=wd), groups=True
            ),
            "adamw_nemo_scheduler": run(
                lambda p: torch.optim.AdamW(p, lr=lr, betas=betas, eps=eps, weight_decay=wd), nemo_chain
            ),
            "adam_l2": run(lambda p: torch.optim.Adam(p, lr=lr, betas=betas, eps=eps, weight_decay=wd)),
            "sgd_momentum": run(
                lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, dampening=0.1, weight_decay=wd)
            ),
            "sgd_nesterov": run(
                lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
            ),
        },
        "schedules": {
            "nemo_linear_constant": schedule_lrs(nemo_chain, 8),
            "cosine_T4_min1e-3": schedule_lrs(
                lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-3), 6
            ),
            "linear_warmup2_cosine4_min1e-3": schedule_lrs(
                lambda o: torch.optim.lr_scheduler.SequentialLR(
                    o,
                    schedulers=[
                        torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=2),
                        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-3),
                    ],
                    milestones=[2],
                ),
                8,
            ),
        },
        "clip": {},
    }
    # clip_grad_norm_: pre-clip total norm and the clipped gradients
    g0 = gradients()[0]
    ts = [torch.tensor(g0[n], dtype=torch.float64) for n in SHAPES]
    ps = [torch.nn.Parameter(torch.zeros_like(t)) for t in ts]
    for p, t in zip(ps, ts):
        p.grad = t.clone()
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    fixture["clip"] = {
        "max_norm": 1.0,
        "grad_norm": float(norm),
        "clipped": {n: p.grad.reshape(-1).tolist() for n, p in zip(SHAPES, ps)},
    }
    assert math.isfinite(float(norm))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
