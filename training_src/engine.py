"""The training epoch and the evaluation pass (bf16 autocast where the GPU supports it), and the optimizer."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import torch
from batches import BatchLoader, StreamLoader
from metrics import BinaryEvaluator
from torch import nn

Loader = BatchLoader | StreamLoader


def autocast(device: torch.device, precision: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to ``precision`` on ``device``, or nothing (float32) when it is None."""
    return torch.autocast(device.type, dtype=precision) if precision is not None else contextlib.nullcontext()


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on GPUs that run it natively (Ampere and later: A10G, A100, H100, L4), else None (float32).

    An MLP step is a handful of small matmuls; bf16 halves their memory traffic. T4 (g4dn) and V100
    (p3) emulate bf16 slowly, and on the CPU autocast only adds casts, so those keep float32.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return None


def make_optimizer(
    model: nn.Module, learning_rate: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW; fused on CUDA (one kernel for every parameter's update instead of about a dozen per step)."""
    fused = device.type == "cuda"
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=fused or None)


def train_one_epoch(
    model: nn.Module,
    loader: Loader,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    *,
    epoch: int,
    epochs: int,
    log_interval: int,
    max_steps: int = 0,
    log: bool = True,
    precision: torch.dtype | None = None,
) -> tuple[torch.Tensor, int]:
    """Train one epoch and return this rank's summed loss (a tensor, to avoid per-step syncs) and sample count.

    Every ``log_interval`` steps rank 0 prints a progress line (``running_loss=``, steps/s, ETA); it
    carries no metric key, so SageMaker's scrapers ignore it.
    """
    model.train()
    loader.set_epoch(epoch)
    total_steps = min(len(loader), max_steps) if max_steps else len(loader)
    loss_sum = torch.zeros((), device=loader.device)
    seen = 0
    started = time.perf_counter()
    for step, (features, labels) in enumerate(loader, start=1):
        optimizer.zero_grad(set_to_none=True)
        with autocast(loader.device, precision):
            logits = model(features)
        loss = loss_fn(logits.float(), labels)
        loss.backward()
        optimizer.step()
        count = len(labels)
        loss_sum.add_(loss.detach(), alpha=count)
        seen += count
        if log and step % log_interval == 0 and step < total_steps:
            rate = step / max(time.perf_counter() - started, 1e-9)
            print(
                f"progress epoch {epoch}/{epochs} step {step}/{total_steps} "
                f"running_loss {float(loss_sum) / seen:.6f} {rate:.1f} steps/s "
                f"eta {(total_steps - step) / rate:.1f}s",
                flush=True,
            )
        if step >= total_steps:
            break
    return loss_sum, seen


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Loader,
    evaluator: BinaryEvaluator,
    loss_fn: nn.Module,
    precision: torch.dtype | None = None,
) -> dict[str, float]:
    """Loss, F1 and AUROC of ``model`` on the loader's samples, aggregated across ranks."""
    model.eval()
    for features, labels in loader:
        with autocast(loader.device, precision):
            logits = model(features).float()
        evaluator.update(logits, labels, loss_fn(logits, labels))
    return evaluator.compute()
