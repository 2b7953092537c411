"""The base of every config and props model: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, so typos in ``cdk.json`` or in props are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)
