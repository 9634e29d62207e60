"""Screenshots of the data view's main pages for the docs (docs/img/view-*.png).

    srlm view --out /tmp/view            # the view of a built run (or `dvc repro view`)
    python bench/view_screenshots.py --view /tmp/view --out docs/img

Opens each page in headless Chromium (bench/browser.py), sets a filter where the page has
one, and saves a PNG of the top of the page (1280 x 900 CSS pixels).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from browser import chromium, missing

# (image name, page relative to the view, filter fragment)
PAGES = [
    ("view-index", "index.html", ""),
    ("view-iteration", "m2/page-0001.html", "pair"),
    ("view-model-ifeval", "models/m2/ifeval-0001.html", ""),
    ("view-model-judge", "models/m2/judge-0001.html", ""),
    ("view-model-comparisons", "models/m3/h2h-0001.html", ""),
    ("view-across", "answers-0001.html", ""),
    ("view-diff", "diff/m2-m3.html", ""),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", type=Path, required=True, help="a folder `srlm view` wrote")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    if (why := missing()) is not None:
        raise SystemExit(f"error: {why}")
    args.out.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name, path, fragment in PAGES:
            target = args.view / path
            if not target.is_file():
                print(f"skipped {name}: no {target}")
                continue
            page.goto(target.resolve().as_uri() + (f"#{fragment}" if fragment else ""))
            page.screenshot(path=args.out / f"{name}.png")
            print(f"wrote {args.out / f'{name}.png'}")


if __name__ == "__main__":
    main()
