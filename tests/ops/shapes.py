"""Hand-written AWS payloads shaped like the real ones, for the operator CLI's tests.

* ``pipeline_definition``: the JSON of DescribePipeline's ``PipelineDefinition`` as the SageMaker
  SDK (2.257.7) renders it: ``Parameters`` ``[{Name, Type, DefaultValue, EnumValues?}]``
  (``sagemaker/workflow/parameters.py``, ``Parameter.to_request``); a Training step whose channel
  ``S3Uri`` is ``{"Std:Join": {"On", "Values"}}`` (``functions.py``, ``Join.expr``) over
  ``{"Get": "Parameters.InputDataUri"}`` (``Parameter.expr``); a Condition step whose branches
  hold a RegisterModel step and a Fail step.
* ``step``, ``training_job``, ``execution``: ListPipelineExecutionSteps, DescribeTrainingJob and
  DescribePipelineExecution responses ("ListPipelineExecutionSteps", SageMaker API Reference,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListPipelineExecutionSteps.html;
  "DescribeTrainingJob", https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html).
  botocore's Stubber checks each one against the service model before it is returned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
PIPELINE = "dev-pytorch-training"
GROUP = "dev-models"
BUCKET = "dev-data-bucket"
EXECUTION_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/a1b2c3d4e5f6"
JOB_NAME = "pipelines-a1b2c3d4e5f6-ModelTraining-Xy12AbCdEf"
JOB_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{JOB_NAME.lower()}"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/3"
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def join_uri(channel: str) -> dict[str, Any]:
    """``<InputDataUri>/<channel>/`` as the SDK's ``Join(on="/", values=[param, channel, ""])`` renders it."""
    return {"Std:Join": {"On": "/", "Values": [{"Get": "Parameters.InputDataUri"}, channel, ""]}}


def input_channel(channel: str, uri: Any, data_type: str = "S3Prefix") -> dict[str, Any]:
    """One ``InputDataConfig`` entry."""
    source = {"S3DataType": data_type, "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
    return {"DataSource": {"S3DataSource": source}, "ChannelName": channel}


def pipeline_definition(
    channels: tuple[str, ...] = ("train", "val", "test"), uri: Any = join_uri, bucket: str = BUCKET
) -> dict[str, Any]:
    """A deployed definition: parameters, training step, quality gate, registration, fail step."""
    training = {
        "Name": "ModelTraining",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "pytorch-training:2.8.0-cpu"},
            "InputDataConfig": [input_channel(c, uri(c) if callable(uri) else uri) for c in channels],
            "OutputDataConfig": {"S3OutputPath": "s3://artifacts/training-output"},
        },
    }
    gate = {
        "Name": "QualityGate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": {"Get": "Steps.ModelTraining.FinalMetricDataList['Test AUC ROC'].Value"},
                    "RightValue": {"Get": "Parameters.QualityThreshold"},
                }
            ],
            "IfSteps": [{"Name": "RegisterModel-RegisterModel", "Type": "RegisterModel", "Arguments": {}}],
            "ElseSteps": [{"Name": "QualityGateFailed", "Type": "Fail", "Arguments": {"ErrorMessage": "below"}}],
        },
    }
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": f"s3://{bucket}/training-data"},
            {"Name": "QualityThreshold", "Type": "Float", "DefaultValue": 0.7},
            {
                "Name": "ModelApprovalStatus",
                "Type": "String",
                "DefaultValue": "PendingManualApproval",
                "EnumValues": ["PendingManualApproval", "Approved", "Rejected"],
            },
            {"Name": "MaxEpochs", "Type": "Integer", "DefaultValue": 10},
            {"Name": "UseSpot", "Type": "Boolean", "DefaultValue": False},
        ],
        "PipelineExperimentConfig": None,
        "Steps": [training, gate],
    }


def step(name: str, status: str, metadata: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """One ``PipelineExecutionSteps`` entry."""
    return {"StepName": name, "StartTime": T0, "StepStatus": status, "Metadata": metadata or {}, **extra}


def training_step(status: str, **extra: Any) -> dict[str, Any]:
    """The ModelTraining step, pointing at ``JOB_ARN``."""
    return step("ModelTraining", status, {"TrainingJob": {"Arn": JOB_ARN}}, **extra)


def training_job(secondary: str, metrics: dict[str, float] | None = None, **extra: Any) -> dict[str, Any]:
    """A DescribeTrainingJob response with its required members."""
    status = {"Completed": "Completed", "Failed": "Failed"}.get(secondary, "InProgress")
    return {
        "TrainingJobName": JOB_NAME,
        "TrainingJobArn": JOB_ARN,
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": T0,
        "FinalMetricDataList": [{"MetricName": k, "Value": v, "Timestamp": T0} for k, v in (metrics or {}).items()],
        **extra,
    }


def execution(status: str, failure: str | None = None) -> dict[str, Any]:
    """A DescribePipelineExecution response."""
    response = {"PipelineExecutionArn": EXECUTION_ARN, "PipelineExecutionStatus": status, "CreationTime": T0}
    if failure:
        response["FailureReason"] = failure
    return response
