"""Code that runs in AWS (Lambda), packaged as an asset of this folder: standard library and boto3 only."""
