"""sightline.v1: protobuf messages generated from proto/sightline/v1.

Do not edit the *_pb2 files; change proto/ and run `make contracts`.
"""
