"""The trainer's step loop against a tuned reference loop, side by side on one device (CPU or GPU).

The reference is what a careful engineer writes by hand for this model: the same MLP, the rows already on
the device, the epoch's permutation drawn on the device, batches indexed on the device, AdamW (fused on
CUDA), bf16 autocast where the GPU supports it, no per-step host synchronization. The trainer side is
``engine.train_one_epoch`` over ``batches.BatchLoader`` as ``train.py`` builds them. Used by
``make bench-train`` (CPU) and ``make gpu-check`` (GPU); it needs only torch and the trainer's modules.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time

import torch
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(
    features: torch.Tensor, labels: torch.Tensor, batch_size: int, device: torch.device, epochs: int = 6
) -> tuple[float, float]:
    """Median samples/s over ``epochs`` alternating epochs (after a warm-up each): (trainer, tuned loop)."""
    from batches import BatchLoader
    from engine import autocast, autocast_dtype, make_optimizer, train_one_epoch
    from model import MLP

    hidden, dropout = [64, 32], 0.1
    x, y = features.to(device), labels.to(device)
    count = len(y)
    precision = autocast_dtype(device)
    torch.manual_seed(0)
    model = MLP(x.shape[1], hidden, dropout).to(device)
    optimizer = make_optimizer(model, 1e-3, 0.0, device)
    loader = BatchLoader(x, y, batch_size, device=device, shuffle=True, seed=0, resident=True)
    loss_fn = nn.BCEWithLogitsLoss()
    torch.manual_seed(0)
    reference = MLP(x.shape[1], hidden, dropout).to(device)
    reference_optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-3, fused=device.type == "cuda" or None)
    generator = torch.Generator(device=device) if device.type == "cuda" else torch.Generator()
    generator.manual_seed(0)

    def trainer_epoch(epoch: int) -> float:
        _sync(device)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # progress lines are part of the cost, not the output
            loss, _ = train_one_epoch(model, loader, optimizer, loss_fn, epoch=epoch, epochs=epochs,
                                      log_interval=50, precision=precision)  # fmt: skip
        float(loss)  # the trainer reads the epoch's loss once
        return count / (time.perf_counter() - started)

    def tuned_epoch(_: int) -> float:
        _sync(device)
        started = time.perf_counter()
        reference.train()
        order = torch.randperm(count, device=device, generator=generator)
        total = torch.zeros((), device=device)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            reference_optimizer.zero_grad(set_to_none=True)
            with autocast(device, precision):
                logits = reference(x[index])
            loss = loss_fn(logits.float(), y[index])
            loss.backward()
            reference_optimizer.step()
            total += loss.detach()
        float(total)
        return count / (time.perf_counter() - started)

    trainer_epoch(0)
    tuned_epoch(0)
    ours, tuned = [], []
    for epoch in range(1, epochs + 1):  # alternate which side goes first, to spread machine noise evenly
        first, second = (trainer_epoch, tuned_epoch) if epoch % 2 else (tuned_epoch, trainer_epoch)
        rates = first(epoch), second(epoch)
        ours.append(rates[0] if epoch % 2 else rates[1])
        tuned.append(rates[1] if epoch % 2 else rates[0])
    return statistics.median(ours), statistics.median(tuned)
