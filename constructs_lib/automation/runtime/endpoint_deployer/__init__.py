"""The deployer Lambda: deploys an approved model version to the stage's endpoint and reports the outcome.

``handler.handle`` is the entry point; ``rollout`` creates the model, endpoint configuration and endpoint
(or updates it blue/green); ``report`` turns endpoint state changes into outcomes; ``config`` reads the
settings the construct passes in the ``DEPLOYER_CONFIG`` environment variable.
"""
