"""Churn classifier: logistic regression in PyTorch on parquet channels ``training`` and ``validation``.

SageMaker passes the hyperparameters as ``--name value`` and each channel as ``SM_CHANNEL_<NAME>``.
Metric lines are ``[<channel>] <name>=<value>``, which the app's TrainerSpec regexes read.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="churned")
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--l2", type=float, default=0.0001)
    return parser.parse_args()


def read_channel(name: str, target: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every parquet file under the channel's folder (sharded exports included), numeric features only."""
    folder = Path(os.environ[f"SM_CHANNEL_{name.upper()}"])
    files = sorted(path for path in folder.rglob("*.parquet") if path.stat().st_size > 0)
    if not files:
        raise SystemExit(f"channel {name}: no .parquet file under {folder}")
    frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    if target not in frame:
        raise SystemExit(f"channel {name}: no target column {target!r}; columns: {', '.join(frame.columns)}")
    features = [column for column in frame.columns if column != target and pd.api.types.is_numeric_dtype(frame[column])]
    values = frame[features].to_numpy(dtype=np.float32)
    return torch.from_numpy(values), torch.from_numpy(frame[target].to_numpy(dtype=np.float32)), features


def main() -> None:
    args = parse_args()
    x_train, y_train, features = read_channel("training", args.target)
    x_val, y_val, _ = read_channel("validation", args.target)
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    model = torch.nn.Linear(len(features), 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.l2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(args.epochs):
        optimizer.zero_grad()
        loss = loss_fn(model((x_train - mean) / std).squeeze(1), y_train)
        loss.backward()
        optimizer.step()
        print(f"[training] log_loss={loss.item():.6f}", flush=True)
    with torch.no_grad():
        predicted = (model((x_val - mean) / std).squeeze(1) > 0).float()
    print(f"[validation] accuracy={(predicted == y_val).float().mean().item():.6f}", flush=True)
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    saved = {"state_dict": model.state_dict(), "mean": mean, "std": std, "features": features}
    torch.save(saved, model_dir / "model.pt")
    (model_dir / "code").mkdir(exist_ok=True)  # the registered model serves code/inference.py from model.tar.gz
    shutil.copy(Path(__file__).with_name("inference.py"), model_dir / "code" / "inference.py")


if __name__ == "__main__":
    main()
