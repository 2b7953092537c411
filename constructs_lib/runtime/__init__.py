"""Code that runs in AWS, not at synth: small Lambda handlers the constructs deploy (stdlib and boto3 only)."""
