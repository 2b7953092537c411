"""Process-group setup from torchrun's environment (also what SageMaker's torch_distributed sets)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

THREADS_ENV = "TRAINER_NUM_THREADS"
"""Optional override of torch's intra-op threads per process (e.g. 1 on a busy CI runner)."""


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ranks, world sizes and its device."""

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 logs metrics and writes checkpoints and artifacts."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def setup() -> DistContext:
    """Pick the device, size torch's threads and join the process group when ``WORLD_SIZE > 1``.

    CUDA is used when available (``cuda:<LOCAL_RANK>``, backend nccl); otherwise CPU with gloo.
    Threads are ``cpu_count // LOCAL_WORLD_SIZE`` (at least one), or ``TRAINER_NUM_THREADS`` when set.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(min(world_size, torch.cuda.device_count() or 1))))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    threads = int(os.environ.get(THREADS_ENV) or 0) or (os.cpu_count() or 1) // max(1, local_world_size)
    torch.set_num_threads(max(1, threads))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank, local_rank, world_size, local_world_size, device)


def teardown() -> None:
    """Leave the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor, weight: torch.Tensor, ctx: DistContext) -> float:
    """Weighted mean of per-rank ``value / weight`` sums across all ranks."""
    if ctx.distributed:
        pair = torch.stack([value.detach().double(), weight.detach().double()])
        dist.all_reduce(pair)
        value, weight = pair[0], pair[1]
    return float(value) / max(float(weight), 1.0)


def broadcast_from_main(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank (picklable objects)."""
    if not ctx.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
