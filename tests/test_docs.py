"""The README stays a short entry point and the manual in docs/ holds together: every relative
link reaches a file, and mkdocs.yml's nav lists every page; and the manual builds as `make docs`
builds it (MkDocs from the dev extra, `--strict`, with docs/hooks.py: under a second)."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import ROOT

DOCS = ROOT / "docs"
# the target of an inline link or image, without its #anchor or "title"
LINK = re.compile(r"\]\(([^)\s#]*)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
# docs/hooks.py puts repository files the docs link to under this prefix of the site
REPO_PREFIX = "repo/"


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))  # code blocks hold no links
    return [
        t for t in LINK.findall(text) if t and "://" not in t and not t.startswith(("mailto:", "/"))
    ]


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the manual belongs in docs/"


def test_relative_links_reach_files():
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        for target in relative_links(page)
        if not (page.parent / target).exists()
    ]
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_readme_links_every_docs_page():
    linked = {(ROOT / t).resolve() for t in relative_links(ROOT / "README.md")}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md's 'Where to go next' misses {missing}"


def test_nav_lists_every_page_and_only_existing_ones():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["docs_dir"] == "docs"
    nav = nav_pages(config["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - set(nav) == set(), f"pages missing from mkdocs.yml's nav: {pages - set(nav)}"
    for entry in nav:
        path = ROOT / entry[len(REPO_PREFIX) :] if entry.startswith(REPO_PREFIX) else DOCS / entry
        assert path.is_file(), f"mkdocs.yml's nav names {entry}, which does not exist"


def test_the_manual_builds_strict_and_repository_files_link_back_to_its_pages(tmp_path):
    # `make docs`; docs/hooks.py carries CHANGELOG.md into the site, whose links into docs/
    # must land on the manual's pages (strict mode fails on any that do not)
    mkdocs = Path(sys.executable).parent / "mkdocs"
    built = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    changelog = (tmp_path / "site" / "repo" / "CHANGELOG" / "index.html").read_text()
    assert 'href="../../reliability/"' in changelog
    speed = (tmp_path / "site" / "speed" / "index.html").read_text()
    assert 'href="../repo/BENCHMARKS/"' in speed
