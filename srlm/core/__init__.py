"""The core layer: errors, params groups and their checks, artifact schemas and I/O, atomic
writes, locks, fingerprints, ids, hardware and the console of stages. It imports nothing else
from srlm.
"""
