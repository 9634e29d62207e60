"""srlm: Self-Rewarding Language Models as a reproducible DVC dataset build system.

The package holds the pure logic (seed building, judging, pairs, evaluation), the artifact
schemas and io, the generation engines and the training glue. `stages/` are thin scripts that
DVC runs; `srlm.cli` is the `srlm` command.
"""

__version__ = "0.1.0"
