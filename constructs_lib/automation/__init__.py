"""Optional automation around a stage's pipeline: scheduled runs, failure alerts, deployment on approval.

Each construct takes library-typed inputs (names, ARNs, ``kms.IKey``, settings objects), validates them
first, owns its roles and their least-privilege grants, and exposes its resources as attributes:

* ``schedule.PipelineSchedule``: an EventBridge Scheduler schedule that starts the pipeline;
* ``alerts.PipelineAlerts``: an encrypted SNS topic and the EventBridge rules that report failed runs;
* ``deployment.ApprovedModelDeployment``: deploys each approved model version to a real-time endpoint.

The deployment's Lambda code (``runtime/endpoint_deployer``) uses only the standard library and boto3,
which the Lambda runtime provides. Importing this package imports no CDK module.
"""
