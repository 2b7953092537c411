"""Ranks under torchrun, each with its own folders as on separate SageMaker instances: only rank 0 writes;
every rank draws its own dropout masks; a checkpoint that one rank cannot read or write stops every rank
with that reason (before, the others waited in their next collective until the process-group timeout).

On several instances each host has its own ``/opt/ml/model``, ``/opt/ml/output`` and ``/opt/ml/checkpoints``;
SageMaker uploads the model and output of the first host (algo-1) and restores the checkpoint prefix "to
checkpoint_local_path in each instance" (Resume training from a checkpoint,
https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints-resume.html). ``per_rank.py`` gives
each torchrun rank such folders of its own.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from checkpoints import restore_rng_state
from trainer_harness import job_env, run_trainer

pytestmark = pytest.mark.slow

ARGS = ["--epochs", "2", "--batch_size", "256", "--dropout", "0.3", "--log_interval_steps", "1000"]
FOLDERS = ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "CHECKPOINT_DIR")
PER_RANK = """import os, runpy, sys
for name in {folders!r}:
    os.environ[name] = os.path.join(os.environ[name], "rank" + os.environ["RANK"])
sys.argv = sys.argv[1:]  # [train.py, arguments...], as torchrun would pass them to train.py itself
sys.path.insert(0, os.path.dirname(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _torchrun(job: Path, data: Path, args: list[str]) -> tuple[str, str, int]:
    wrapper = job / "per_rank.py"
    job.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(PER_RANK.format(folders=FOLDERS))
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(wrapper)]
    result = run_trainer(args, job_env(job, data), launcher=launcher)
    return result.stdout, result.stderr, result.returncode


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory, dataset_dir: Path) -> Path:
    job = tmp_path_factory.mktemp("two-hosts")
    out, err, code = _torchrun(job, dataset_dir, ARGS)
    assert code == 0, err[-3000:]
    assert "world size 2 (gloo), collectives time out after 1800 s" in out
    return job


def test_only_rank_0_writes_the_model_outputs_and_checkpoints(two_hosts: Path) -> None:
    for folder in ("model", "output/data", "checkpoints"):
        assert _files(two_hosts / folder / "rank1") == [], folder
    assert {"model.pt", "model_meta.json"} <= set(_files(two_hosts / "model" / "rank0"))
    assert "checkpoint-epoch-0002.pt" in _files(two_hosts / "checkpoints" / "rank0")


def test_each_rank_draws_its_own_dropout_masks(two_hosts: Path) -> None:
    state = torch.load(two_hosts / "checkpoints" / "rank0" / "checkpoint-epoch-0002.pt", weights_only=True)
    masks = []
    for rank_state in state["rng"]:
        restore_rng_state(rank_state)
        masks.append(torch.nn.functional.dropout(torch.ones(4096), 0.3))
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
    assert not torch.equal(masks[0], masks[1]), "both ranks would drop the same units"


def test_a_checkpoint_one_rank_cannot_read_stops_every_rank(two_hosts: Path, tmp_path: Path, dataset_dir: Path) -> None:
    job = tmp_path / "job"
    for rank in ("rank0", "rank1"):  # SageMaker restores the checkpoints on every host
        shutil.copytree(two_hosts / "checkpoints" / "rank0", job / "checkpoints" / rank)
    broken = job / "checkpoints" / "rank1" / "checkpoint-epoch-0002.pt"
    broken.write_bytes(broken.read_bytes()[:1000])  # this host's copy is truncated
    _, err, code = _torchrun(job, dataset_dir, ARGS)  # the same settings: rank 0 resumes epoch 2
    assert code != 0
    reason = (job / "output" / "failure").read_text()
    assert f"checkpoint {broken} cannot read the one rank 0 resumes from" in reason, reason
    assert reason.rstrip().endswith("(on rank 1)") and "Connection closed" not in err, err[-2000:]
    assert err.count("ERROR: checkpoint ") == 2, "both ranks stop with the reason"


def test_a_checkpoint_rank_0_cannot_write_stops_every_rank(tmp_path: Path, dataset_dir: Path) -> None:
    (tmp_path / "checkpoints" / "rank0" / "checkpoint-epoch-0001.pt").mkdir(parents=True)  # os.replace fails
    out, err, code = _torchrun(tmp_path, dataset_dir, ARGS)
    assert code != 0 and "epoch=1/2" in out
    reason = (tmp_path / "output" / "failure").read_text()
    assert reason.startswith("cannot write the checkpoint of epoch 1 to ") and "(on rank 0)" in reason, reason
    assert err.count("ERROR: cannot write the checkpoint of epoch 1") == 2, err[-2000:]
