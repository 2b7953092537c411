"""Device correctness without a GPU: the helpers run with tensors on ``meta``, a non-CPU device that needs
no hardware. Anything that mixes devices (a CPU count stacked with a device loss sum, a checkpoint
loaded onto the job's device and then read with ``.numpy()``) raises there just as it does on CUDA.
Only reading a value back (``float()``) is impossible on ``meta``; those steps run on CUDA in
``tests/gpu``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import distributed
import numpy as np
import pytest
import torch
from batches import BatchLoader
from checkpoints import CheckpointManager, capture_rng_state, fingerprint
from engine import train_one_epoch
from metrics import BinaryEvaluator
from model import MLP
from resume import Progress, restore, resume_state
from torch import nn

META = torch.device("meta")
SETTINGS = {"hyperparameters": {"learning_rate": 0.001}, "feature_columns": ["a", "b", "c"], "world_size": 1}


def _context(device: torch.device, world_size: int = 1) -> distributed.DistContext:
    return distributed.DistContext(0, 0, world_size, world_size, device, "gloo" if world_size > 1 else "none")


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(40, 3, generator=generator), (torch.rand(40, generator=generator) > 0.5).float()


def test_loss_reduction_builds_its_tensor_on_the_group_device(monkeypatch: pytest.MonkeyPatch) -> None:
    reduced: list[torch.device] = []
    monkeypatch.setattr(distributed.dist, "all_reduce", lambda tensor: reduced.append(tensor.device))
    with pytest.raises((RuntimeError, NotImplementedError)):  # float() of a meta tensor, after the reduction
        distributed.all_reduce_mean(torch.zeros((), device=META), 12, _context(META, world_size=2))
    assert reduced == [META]
    assert distributed.reduction_pair(torch.zeros((), device=META), torch.tensor(3), META).device == META
    assert distributed.all_reduce_mean(torch.tensor(6.0), 4, _context(torch.device("cpu"))) == 1.5


def test_a_training_epoch_and_evaluation_stay_on_the_device() -> None:
    features, labels = _data()
    model = MLP(3, [4], 0.1).to(META)
    optimizer = torch.optim.AdamW(model.parameters())
    loader = BatchLoader(features, labels, 8, device=META, shuffle=True, seed=1)
    loss_sum, seen = train_one_epoch(
        model, loader, optimizer, nn.BCEWithLogitsLoss(), epoch=1, epochs=1, log_interval=1, log=False
    )
    assert loss_sum.device == META and seen == 40
    assert all(state.device == META for state in optimizer.state[model.net[0].weight].values() if state.dim())
    evaluator = BinaryEvaluator(0.5, META, with_roc=True)
    for batch, target in BatchLoader(features, labels, 16, device=META):
        assert batch.device == META and batch.shape[0] <= 16
        logits = model(batch)
        evaluator.update(logits, target, nn.functional.binary_cross_entropy_with_logits(logits, target))
    states = [*evaluator.auroc.preds, *evaluator.f1.metric_state.values(), evaluator.loss.mean_value]
    assert all(state.device == META for state in states)


def _checkpoint_written_on_cpu(directory: Path) -> tuple[CheckpointManager, torch.Tensor]:
    """A checkpoint as the trainer writes it, and the torch.rand values that follow its RNG state."""
    model = MLP(3, [4], 0.0)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    progress = Progress(epoch=2, best_auroc=0.7, best_epoch=2, best_model=model.state_dict())
    rng = [capture_rng_state()]
    expected = torch.rand(5)
    manager = CheckpointManager(directory)
    manager.save({
        **progress.__dict__, "model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng,
        "standardizer": {"mean": [0.0] * 3, "std": [1.0] * 3}, "settings": SETTINGS,
        "fingerprint": fingerprint(SETTINGS),
    })  # fmt: skip
    return manager, expected


@pytest.mark.filterwarnings("ignore:for net:UserWarning")  # loading values into meta parameters is a no-op
def test_a_checkpoint_resumes_onto_another_device(tmp_path: Path) -> None:
    manager, expected = _checkpoint_written_on_cpu(tmp_path)
    ctx = _context(META)
    state = resume_state(manager, SETTINGS, False, ctx)
    assert state is not None
    model = MLP(3, [4], 0.0).to(META)
    optimizer = torch.optim.AdamW(model.parameters())
    progress = restore(state, model, optimizer, ctx)
    assert progress.epoch == 2 and progress.best_epoch == 2
    assert all(parameter.device == META for parameter in model.parameters())
    moments = optimizer.state[model.net[0].weight]
    assert moments["exp_avg"].device == META and moments["exp_avg_sq"].device == META
    assert torch.equal(torch.rand(5), expected), "the RNG continues where the checkpoint left it"


def test_saved_tensors_load_on_the_cpu(tmp_path: Path) -> None:
    manager, _ = _checkpoint_written_on_cpu(tmp_path)
    (_, path), *_ = manager.checkpoints()
    state = manager.load(path)
    assert state is not None
    key = state["rng"][0]["numpy"]["key"]
    assert key.device.type == "cpu" and key.numpy().dtype == np.int64


@pytest.mark.parametrize(
    ("device", "processes", "gpus", "backend"),
    [("cpu", 2, 0, "gloo"), ("cuda", 8, 8, "nccl"), ("cuda", 2, 1, "gloo"), ("cuda", 1, 1, "nccl")],
)
def test_backend_choice(device: str, processes: int, gpus: int, backend: str) -> None:
    assert distributed.pick_backend(torch.device(device), processes, gpus) == backend


def test_the_process_group_gets_an_explicit_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without one, a rank that died leaves the others waiting for the backend's default (nccl: 10 min, or
    forever with some settings); with one, every wait has a known bound."""
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ctx = distributed.setup()
    assert ctx.backend == "gloo" and calls == [{"backend": "gloo", "timeout": timedelta(seconds=1800)}]
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "120")
    distributed.setup()
    assert calls[-1]["timeout"] == timedelta(seconds=120)


def test_each_rank_draws_its_own_dropout_masks() -> None:
    assert distributed.rank_seed(42, 0) == 42
    assert len({distributed.rank_seed(42, rank) for rank in range(64)}) == 64
