"""The core layer: errors, params config, artifact schemas and I/O, fingerprints, resumable
shards, ids, hardware and the stage runtime. It imports nothing else from srlm.
"""
