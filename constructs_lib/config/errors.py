"""Errors the app reports to the user as one message, without a traceback."""


class ConfigError(ValueError):
    """Invalid configuration; the message names each bad field or file and what is valid."""
