"""How stage scripts and the CLI run: logging, and known errors as one clear line.

`run_stage(main)` calls `main()`; an `SrlmError` (bad params, bad seed file, missing or
invalid artifact, unloadable model) is printed as one line naming the file/key and exits 1,
instead of a traceback from deep inside a library.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from srlm.core.errors import SrlmError


def setup_logging() -> None:
    """INFO logs to stderr, quiet third-party chatter; `SRLM_LOG=DEBUG` for more."""
    logging.basicConfig(
        level=os.environ.get("SRLM_LOG", "INFO"),
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Stages never talk to a hub; fail fast instead of waiting on the network.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def run_stage(main: Callable[[], object]) -> None:
    """Run a stage's `main`; known errors become one line on stderr and exit status 1."""
    setup_logging()
    try:
        main()
    except SrlmError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
