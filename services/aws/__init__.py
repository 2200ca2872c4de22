"""The AWS adapters: boto3 clients, error mapping, the S3 store, Batch jobs and connection checks."""
