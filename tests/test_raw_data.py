"""The open data shipped in data/raw: unchanged (checksums), licensed, and nothing else."""

import hashlib

from tests.helpers import REPO_DATA


def checksums() -> dict[str, str]:
    lines = (REPO_DATA / "SHA256SUMS").read_text().splitlines()
    return {name.removeprefix("./"): digest for digest, name in (line.split() for line in lines)}


def test_every_shipped_file_matches_its_checksum():
    listed = checksums()
    for name, digest in listed.items():
        assert hashlib.sha256((REPO_DATA / name).read_bytes()).hexdigest() == digest, name
    present = {str(p.relative_to(REPO_DATA)) for p in REPO_DATA.rglob("*") if p.is_file()}
    assert present - set(listed) == {"SHA256SUMS", "README.md"}


def test_each_data_folder_carries_its_license():
    for folder in {name.split("/")[0] for name in checksums()}:
        assert any("LICENSE" in p.name for p in (REPO_DATA / folder).iterdir()), folder


def test_no_alpaca_eval_data_ships():
    """AlpacaEval outputs are CC BY-NC: read from a path the user names, never shipped."""
    assert not any("alpaca" in p.name.lower() for p in REPO_DATA.rglob("*") if p.is_file())
