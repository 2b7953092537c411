"""Process-group setup from torchrun's environment (also what SageMaker's torch_distributed sets), and the
few collectives the trainer uses.

Every collective builds its tensors on the process group's device (``DistContext.device``): nccl
only reduces CUDA tensors, and ``torch.stack`` refuses to mix a CUDA loss sum with a CPU count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from failure import TrainingError

THREADS_ENV = "TRAINER_NUM_THREADS"
"""Optional override of torch's intra-op threads per process (e.g. 1 on a busy CI runner)."""
TIMEOUT_ENV = "TRAINER_PROCESS_GROUP_TIMEOUT_S"
"""Optional override of ``PROCESS_GROUP_TIMEOUT_S``."""
PROCESS_GROUP_TIMEOUT_S = 1800
"""How long a collective waits for the other ranks before it fails (passed to ``init_process_group``).
Every rank reaches each collective within seconds of the others (their shares differ by at most one
row), except after a crash; 30 minutes also covers streaming's first pass over a rank's share."""
T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ranks, world sizes and its device."""

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    device: torch.device
    backend: str = "none"

    @property
    def is_main(self) -> bool:
        """Rank 0 logs metrics and writes checkpoints and artifacts."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def pick_backend(device: torch.device, local_world_size: int, gpus: int) -> str:
    """nccl on GPUs, gloo on CPU, and gloo when processes share a GPU.

    NCCL refuses two ranks of one communicator on the same device ("Duplicate GPU detected",
    ncclInvalidUsage; https://github.com/NVIDIA/nccl/issues/231). Gloo reduces CUDA tensors too,
    through host memory, which is what a shared-GPU smoke test or debugging run needs.
    """
    if device.type != "cuda":
        return "gloo"
    return "nccl" if local_world_size <= gpus else "gloo"


def setup() -> DistContext:
    """Pick the device, size torch's threads and join the process group when ``WORLD_SIZE > 1``.

    CUDA is used when available (``cuda:<LOCAL_RANK % GPUs>``); otherwise CPU. The backend comes from
    ``pick_backend``. Threads are ``cpu_count // LOCAL_WORLD_SIZE`` (at least one), or
    ``TRAINER_NUM_THREADS`` when set.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(min(world_size, gpus or 1))))
    if gpus:
        device = torch.device("cuda", local_rank % gpus)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    threads = int(os.environ.get(THREADS_ENV) or 0) or (os.cpu_count() or 1) // max(1, local_world_size)
    torch.set_num_threads(max(1, threads))
    backend = "none"
    if world_size > 1:
        backend = pick_backend(device, local_world_size, gpus)
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, timeout=timedelta(seconds=process_group_timeout()))
    return DistContext(rank, local_rank, world_size, local_world_size, device, backend)


def process_group_timeout() -> int:
    """Seconds a collective waits: ``TRAINER_PROCESS_GROUP_TIMEOUT_S`` or ``PROCESS_GROUP_TIMEOUT_S``."""
    return int(os.environ.get(TIMEOUT_ENV) or PROCESS_GROUP_TIMEOUT_S)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s random draws (dropout masks): ``seed`` on rank 0, another on each other rank.

    With one seed everywhere every rank would draw the same dropout masks: the ranks' gradients would
    not be the independent samples data parallelism averages.
    """
    return (seed + 1_000_003 * rank) % 2**32


def teardown() -> None:
    """Leave the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def reduction_pair(value: torch.Tensor, count: int | torch.Tensor, device: torch.device) -> torch.Tensor:
    """``[value, count]`` as one float64 tensor on ``device``, whatever devices its inputs were on."""
    return torch.stack([value.detach().to(device, torch.float64), torch.as_tensor(count).to(device, torch.float64)])


def all_reduce_mean(value: torch.Tensor, count: int | torch.Tensor, ctx: DistContext) -> float:
    """``sum(value) / sum(count)`` over all ranks (e.g. summed losses and sample counts)."""
    pair = reduction_pair(value, count, ctx.device)
    if ctx.distributed:
        dist.all_reduce(pair)
    return float(pair[0]) / max(float(pair[1]), 1.0)


def all_gather_object(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


SHARE = "in rank {rank}'s share of the rows"


def agree_on_failure(error: TrainingError | None, ctx: DistContext, where: str = SHARE) -> None:
    """Raise on every rank when any rank failed, naming the lowest failing rank's reason.

    Each rank validates only its own share of the rows, and reads its own host's copy of the
    checkpoints. A rank that raised alone would leave the others blocked in their next collective,
    which then fails with a transport error (gloo: "Connection closed by peer"; nccl: a timeout)
    that rank 0 would write to the failure file, which SageMaker shows as the job's FailureReason,
    in place of the real reason. ``where`` (with ``{rank}``) says where it happened.
    """
    messages = all_gather_object(None if error is None else str(error), ctx)
    for rank, message in enumerate(messages):
        if message is not None:
            shown = message if not ctx.distributed else f"{message} ({where.format(rank=rank)})"
            raise TrainingError(shown)


def agreed(action: Callable[[], T], ctx: DistContext, where: str = SHARE) -> T:
    """``action()`` on every rank; when it raises ``TrainingError`` on any rank, every rank raises that reason."""
    try:
        result, error = action(), None
    except TrainingError as failure:
        result, error = None, failure
    agree_on_failure(error, ctx, where)
    return result  # type: ignore[return-value]  # None only when some rank failed, and then this raised


def all_reduce_sum(values: list[int], ctx: DistContext) -> list[int]:
    """Element-wise sums of integer counts over all ranks."""
    if not ctx.distributed:
        return list(values)
    return [sum(column) for column in zip(*all_gather_object(list(values), ctx), strict=True)]


def weight_summary(model: torch.nn.Module) -> list[float]:
    """Sum and sum of absolute values of every parameter, as plain floats (cheap to gather)."""
    summary: list[float] = []
    for parameter in model.parameters():
        values = parameter.detach().double()
        summary += [float(values.sum()), float(values.abs().sum())]
    return summary


def weight_divergence(model: torch.nn.Module, ctx: DistContext, tolerance: float = 1e-6) -> float:
    """The largest relative difference between any rank's weights and rank 0's (0 with one process)."""
    summaries = all_gather_object(weight_summary(model), ctx)
    worst = 0.0
    for summary in summaries[1:]:
        for mine, main in zip(summary, summaries[0], strict=True):
            worst = max(worst, abs(mine - main) / max(abs(main), tolerance))
    return worst


def broadcast_from_main(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank (picklable objects)."""
    if not ctx.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
