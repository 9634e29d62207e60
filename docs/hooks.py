"""MkDocs hook (mkdocs.yml `hooks:`): the site carries the repository files the manual links to.

The pages in docs/ link to files outside docs/ the way a git host resolves them, e.g.
`../reports/summary.md` (written by the `report` stage) or `../BENCHMARKS.md` (by `make bench`),
so the same links work when browsing the repository. MkDocs only knows the files in docs/, and
`mkdocs build --strict` fails on such a link. This hook adds each repository file a page links
to, and the files a linked Markdown file links to in turn (the summary's PNG charts), to the
site under `repo/`, and points the pages' links there. A link to a file that does not exist is
left as written, so `--strict` still fails on it. Run by `make docs`; nothing else imports it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

# the target of an inline link or image: `](target)`, `](target#anchor)`, `](target "title")`
LINK = re.compile(r"(\]\()([^)\s#]+)")
# where the repository's files appear in the site
PREFIX = "repo"


def _folders(config: Any) -> tuple[Path, Path]:
    docs = Path(config["docs_dir"]).resolve()
    return docs.parent, docs


def _linked_file(source: Path, target: str) -> Path | None:
    """The existing local file a link in `source` points to."""
    if "://" in target or target.startswith(("/", "mailto:")):
        return None
    path = (source.parent / target).resolve()
    return path if path.is_file() else None


def _repository_file(source: Path, target: str, root: Path, docs: Path) -> Path | None:
    """The existing file outside docs/ (inside the repository) a link in `source` points to."""
    path = _linked_file(source, target)
    inside = path is not None and path.is_relative_to(root) and not path.is_relative_to(docs)
    return path if inside else None


def on_files(files: Files, config: Any) -> Files:
    root, docs = _folders(config)
    queue = [docs / page.src_uri for page in files.documentation_pages()]
    added: set[Path] = set()
    while queue:
        source = queue.pop()
        for match in LINK.finditer(source.read_text(encoding="utf-8")):
            path = _repository_file(source, match.group(2), root, docs)
            if path is None or path in added:
                continue
            added.add(path)
            src_uri = posixpath.join(PREFIX, path.relative_to(root).as_posix())
            # not in nav unless mkdocs.yml names it: linked files are reached by their links
            files.append(
                File.generated(
                    config, src_uri, abs_src_path=str(path), inclusion=InclusionLevel.NOT_IN_NAV
                )
            )
            if path.suffix == ".md":
                queue.append(path)
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Points a page's links to repository files at their copies under repo/, and a repository
    file's links into docs/ (CHANGELOG.md's to the manual) at the pages; a repository file's
    links to other repository files already resolve inside repo/."""
    root, docs = _folders(config)
    in_repo = page.file.src_uri.startswith(PREFIX + "/")
    source = Path(page.file.abs_src_path) if in_repo else docs / page.file.src_uri
    here = posixpath.dirname(page.file.src_uri) or "."

    def site_path(target: str) -> str | None:
        if in_repo:
            path = _linked_file(source, target)
            page_in_docs = path is not None and path.is_relative_to(docs)
            return path.relative_to(docs).as_posix() if page_in_docs else None
        path = _repository_file(source, target, root, docs)
        return None if path is None else posixpath.join(PREFIX, path.relative_to(root).as_posix())

    def point_into_site(match: re.Match[str]) -> str:
        target = site_path(match.group(2))
        if target is None:
            return match.group(0)
        return match.group(1) + posixpath.relpath(target, here)

    return LINK.sub(point_into_site, markdown)
