"""Errors the app reports to the user as one message, without a traceback.

Every error about a stage setting uses one form, ``cdk.json: context.stages.<stage>.<field>: …``,
whether pydantic, the construct or the SDK renderer finds it, so users learn one way to read them.
"""

CONFIG_FILE = "cdk.json"


class ConfigError(ValueError):
    """Invalid configuration; the message names each bad field or file and what is valid."""


class FieldError(ValueError):
    """A model validator's finding about one field, given relative to the model (``model.py_version``).

    ``stage_config`` reads ``field`` back from pydantic's error context to build the full path.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def stage_field_path(stage: str, field: str, source: str = CONFIG_FILE) -> str:
    """``cdk.json: context.stages.<stage>.<field>``: where a user finds a stage setting."""
    return f"{source}: context.stages.{stage}.{field}"


def stage_error(stage: str, field: str, detail: str) -> ConfigError:
    """A ``ConfigError`` in the one path form, for checks made outside pydantic."""
    return ConfigError(f"{stage_field_path(stage, field)}: {detail}")
