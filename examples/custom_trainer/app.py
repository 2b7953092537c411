#!/usr/bin/env python3
"""A CDK app of its own: the library's pipeline with this app's churn trainer (README: "Use it in your own CDK app")."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from constructs_lib import SageMakerTrainingPipeline, TrainerSpec

TRAINER = TrainerSpec(
    source_dir=Path(__file__).resolve().parent / "trainer",
    entry_point="fit.py",
    hyperparameters={"target": "churned", "learning_rate": 0.05, "epochs": 40, "l2": 0.0001},
    required_channels=("training", "validation"),
    metric_definitions={
        "training:log_loss": r"\[training\] log_loss=([0-9.]+)",
        "validation:accuracy": r"\[validation\] accuracy=([0-9.]+)",
    },
    final_metrics=("validation:accuracy",),
    gate_metric="validation:accuracy",
    quality_threshold=0.6,
)

app = cdk.App()
stack = cdk.Stack(app, "ChurnTraining", env=cdk.Environment(region="us-east-1"))
pipeline = SageMakerTrainingPipeline(
    stack, "Churn", stage_name="churn", trainer=TRAINER, hyperparameters={"epochs": 60}
)
scheduler = iam.Role(stack, "Starter", assumed_by=iam.AccountRootPrincipal(), description="Starts churn training runs")
pipeline.grant_start_execution(scheduler)
cdk.CfnOutput(stack, "PipelineName", value=pipeline.pipeline_name)
if __name__ == "__main__":  # the CDK CLI runs `python3 app.py`; tests import the stack
    app.synth()
