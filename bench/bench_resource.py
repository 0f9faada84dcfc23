"""Small-network training throughput: scalinglab's engine against PyTorch on the CPU.

Run (about two minutes on 2 cores; -s prints the ratios):

    PYTHONPATH=python python -m pytest bench/bench_resource.py -s --benchmark-only \
        --benchmark-columns=min,median,rounds

Group ``mlp-train-64nets``: 64 networks 3 -> N (SiLU) -> 3 (8 widths geomspace(8, 256) x 8
seeds), Adam, batch 128 of fresh samples of the toy composite task y_i = s_i x_i^2 every step,
STEPS steps each (the resource-model experiment, digest A(d)). Throughput is network-steps per
second. Baselines doing the same training in PyTorch (same data generation cost excluded:
torch draws its batches with torch.rand, which is cheaper than our Philox fills):

* ``torch-batched``: the networks of one width stacked and trained together with torch.bmm
  (one Adam over (8, ...) tensors per width), the fastest PyTorch formulation we know;
* ``torch-loop``: one nn.Sequential and Adam per network, stepped in turn (how one would
  usually write it).

Threads: ``SCALINGLAB_BENCH_THREADS`` (default 2) for both scalinglab (``n_threads``) and
torch (``torch.set_num_threads``). Skips cleanly when torch is missing (``pip install
scalinglab[bench]``). Ratios of best rounds are printed and stored in extra_info.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from scalinglab import resource as R

torch = pytest.importorskip("torch")

THREADS = int(os.environ.get("SCALINGLAB_BENCH_THREADS", "2"))
ROUNDS = int(os.environ.get("SCALINGLAB_BENCH_ROUNDS", "3"))
STEPS = 100
BATCH = 128
WIDTHS = [int(round(w)) for w in np.geomspace(8, 256, 8)]
SEEDS = 8
N_NETWORKS = len(WIDTHS) * SEEDS
SCALES = (1.0, 2.0, 4.0)
RESULTS: dict[str, float] = {}


def _scalinglab_train():
    training = R.MLPTraining(steps=STEPS, batch_size=BATCH)
    return R.train_networks(R.CompositeTask.parallel_powers(SCALES), WIDTHS, SEEDS,
                            training=training, eval_size=BATCH, rng=0, n_threads=THREADS,
                            progress=False)


def _torch_batched_train():
    torch.manual_seed(0)
    scales = torch.tensor(SCALES, dtype=torch.float64)
    groups = []
    for width in WIDTHS:
        W1 = torch.randn(SEEDS, 3, width, dtype=torch.float64, requires_grad=True)
        b1 = (2 * torch.rand(SEEDS, 1, width, dtype=torch.float64) - 1).requires_grad_()
        W2 = (torch.randn(SEEDS, width, 3, dtype=torch.float64) / width**0.5).requires_grad_()
        b2 = torch.zeros(SEEDS, 1, 3, dtype=torch.float64, requires_grad=True)
        params = [W1, b1, W2, b2]
        optimizer = torch.optim.Adam(params, lr=3e-3)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, (1e-2) ** (1 / (STEPS - 1)))
        groups.append((params, optimizer, scheduler))
    for _ in range(STEPS):
        for (W1, b1, W2, b2), optimizer, scheduler in groups:
            x = 2 * torch.rand(SEEDS, BATCH, 3, dtype=torch.float64) - 1
            y = scales * x * x
            out = torch.baddbmm(b2, torch.nn.functional.silu(torch.baddbmm(b1, x, W1)), W2)
            # Sum over outputs and networks, mean over the batch: each network's own loss.
            loss = ((out - y) ** 2).sum() / BATCH
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()


def _torch_loop_train():
    torch.manual_seed(0)
    scales = torch.tensor(SCALES, dtype=torch.float64)
    nets = []
    for width in WIDTHS:
        for _ in range(SEEDS):
            model = torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.SiLU(),
                                        torch.nn.Linear(width, 3)).double()
            optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
            nets.append((model, optimizer))
    for _ in range(STEPS):
        for model, optimizer in nets:
            x = 2 * torch.rand(BATCH, 3, dtype=torch.float64) - 1
            loss = ((model(x) - scales * x * x) ** 2).sum() / BATCH
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def _record(benchmark, name):
    best = benchmark.stats.stats.min
    RESULTS[name] = best
    benchmark.extra_info["network_steps_per_second"] = N_NETWORKS * STEPS / best
    if "scalinglab" in RESULTS and name != "scalinglab":
        ratio = RESULTS[name] / RESULTS["scalinglab"]
        benchmark.extra_info["speedup_of_scalinglab"] = ratio
        print(f"\n{name}: {N_NETWORKS * STEPS / best:.0f} network-steps/s; scalinglab "
              f"{N_NETWORKS * STEPS / RESULTS['scalinglab']:.0f}/s = {ratio:.2f}x faster")


@pytest.mark.benchmark(group="mlp-train-64nets")
def test_scalinglab_engine(benchmark):
    result = benchmark.pedantic(_scalinglab_train, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    assert np.isfinite(result.test_loss).all()
    _record(benchmark, "scalinglab")


@pytest.mark.benchmark(group="mlp-train-64nets")
def test_torch_batched(benchmark):
    torch.set_num_threads(THREADS)
    benchmark.pedantic(_torch_batched_train, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    _record(benchmark, "torch-batched")


@pytest.mark.benchmark(group="mlp-train-64nets")
def test_torch_loop(benchmark):
    torch.set_num_threads(THREADS)
    benchmark.pedantic(_torch_loop_train, rounds=1, iterations=1, warmup_rounds=0)
    _record(benchmark, "torch-loop")
