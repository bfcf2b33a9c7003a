#!/usr/bin/env python3
"""An S3-protocol server for the tests: moto's server mode, on 127.0.0.1.

    s3_server.py PORT BUCKET

Creates BUCKET, prints "ready", and serves until its standard input closes (the test process
that started it exited), so no server outlives its tests.
"""
import json
import sys

import boto3
from moto.server import ThreadedMotoServer

port, bucket = int(sys.argv[1]), sys.argv[2]
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket=bucket)
# The tests read and write objects over plain HTTP, as a device reads a public bucket.
s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
print("ready", flush=True)
sys.stdin.read()
server.stop()
