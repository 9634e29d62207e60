"""Benchmark: fingerprinting a 10 GB model folder from its record vs reading its bytes.

    python bench/model_fingerprint.py                     # 10 GB folder, 1 GB slice read
    python bench/model_fingerprint.py --gib 140 --slice-gib 2 --dir /scratch

Builds a sparse model folder in a temporary directory (`--dir`): `--shards` safetensors files
of `--gib` GiB in all (made with `os.truncate`, so they take no disk space), a config, a
tokenizer and a weight index, plus its `_model_manifest.json`. The record lists the real
names and sizes; its per-file sha256 are stand-ins, since computing them would read the 10 GB
that the record exists to spare (a fingerprint checks them against the record's own folder
hash, never against the files: names and sizes are what it compares with the folder). Then it
times `input_hash(folder)`, what every stage that uses a model runs (target: < 0.1 s, whatever
the model's size), against the old way, reading every byte (`folder_hash`, 3 repeats), on a
`--slice-gib` slice, extrapolated to the whole folder. The slice is sparse too: its zero pages
come from memory, not from a disk, so the extrapolated figure is a lower bound of what a real
read costs. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from measure import peak_rss_mib, summary

from srlm.core.fingerprints import input_hash
from srlm.core.model_identity import (
    MODEL_MANIFEST,
    RECORD_VERSION,
    combined_hash,
    folder_hash,
    recorded_hash,
)

GIB = 2**30


def sparse_model(folder: Path, total_bytes: int, shards: int) -> dict[str, int]:
    """Write a sparse model folder of `total_bytes` of weights; {relative path: size}."""
    folder.mkdir(parents=True)
    sizes = {}
    for index in range(shards):
        name = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        with open(folder / name, "wb") as handle:
            os.truncate(handle.fileno(), total_bytes // shards)
        sizes[name] = total_bytes // shards
    small = {
        "config.json": json.dumps({"model_type": "llama"}),
        "tokenizer.json": json.dumps({"version": "1.0"}),
        "model.safetensors.index.json": json.dumps({"weight_map": sorted(sizes)}),
    }
    for name, text in small.items():
        (folder / name).write_text(text)
        sizes[name] = (folder / name).stat().st_size
    return sizes


def stand_in_record(folder: Path, sizes: dict[str, int]) -> None:
    """A record with the folder's real names and sizes and stand-in sha256 values."""
    files = {
        name: {"bytes": size, "sha256": f"{index:064x}"}
        for index, (name, size) in enumerate(sorted(sizes.items()))
    }
    record = {
        "kind": "model",
        "record_version": RECORD_VERSION,
        "sha256": combined_hash(files),
        "bytes": sum(sizes.values()),
        "files": files,
        "written_by": "bench/model_fingerprint.py",
        "versions": {},
    }
    (folder / MODEL_MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=10.0, help="weights in the model folder")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--slice-gib", type=float, default=1.0, help="what the old way reads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", help="where to build the folders (default: the temp dir)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="srlm-bench-model-", dir=args.dir))
    try:
        model = root / "model"
        stand_in_record(model, sparse_model(model, int(args.gib * GIB), args.shards))
        expected = recorded_hash(model)[0]
        if expected is None:
            raise SystemExit(f"{model}: the record is not trusted: {recorded_hash(model)[1]}")
        with_record = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            value = input_hash(model)
            with_record.append(time.perf_counter() - started)
            assert value == expected
        piece = root / "slice"
        sparse_model(piece, int(args.slice_gib * GIB), 1)
        full_read = []
        for _ in range(3):
            started = time.perf_counter()
            folder_hash(piece)
            full_read.append(time.perf_counter() - started)
        per_gib = statistics.median(full_read) / args.slice_gib
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "model_gib": args.gib,
        "files": args.shards + 3,
        "with_record_ms": summary([s * 1e3 for s in with_record]),
        "slice_gib": args.slice_gib,
        "full_read_s_per_gib": summary([s / args.slice_gib for s in full_read]),
        "full_read_extrapolated_s": round(per_gib * args.gib, 1),
        "speedup": round(per_gib * args.gib / statistics.median(with_record)),
        "peak_rss_mib": peak_rss_mib(),
    }
    print(
        f"{args.gib:g} GiB model: fingerprint from its record "
        f"{result['with_record_ms']['median']:.2f} ms; reading it all "
        f"~{result['full_read_extrapolated_s']} s ({per_gib:.2f} s/GiB, from "
        f"{args.slice_gib:g} GiB)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
