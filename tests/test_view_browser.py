"""The data view in a real browser (headless Chromium driven by Playwright): filters hide and
count prompts on the page and across pages, a filter in the address opens a page filtered, a
pair is found with its judge samples, and hostile model output stays text (no script runs,
no element is made from it). Skips, with the reason, where Chromium or Playwright is missing.
"""

import importlib.util
import sys

import pytest

from srlm.tools.view import write_view
from tests.helpers import ROOT
from tests.test_view import HOSTILE, build_iteration

sys.path.insert(0, str(ROOT / "bench"))
_spec = importlib.util.spec_from_file_location("view_browser", ROOT / "bench" / "browser.py")
browser_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_module)
sys.path.remove(str(ROOT / "bench"))

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(browser_module.missing() is not None, reason=str(browser_module.missing())),
]


@pytest.fixture(scope="module")
def browser():
    with browser_module.chromium() as opened:
        yield opened


@pytest.fixture
def view(tmp_path):
    """7 prompts on pages of 3: p0 has a pair (with a hostile rejected answer and hostile judge
    texts), p1 ties, the others have unparsed samples."""
    build_iteration(tmp_path, n_prompts=7, hostile=True)
    return write_view(tmp_path / "data", ["m2"], tmp_path / "view", page_size=3)


def open_page(browser, path):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(path.as_uri())
    return page, dialogs, errors


def visible_ids(page):
    return page.eval_on_selector_all(
        "section.prompt", "els => els.filter(e => !e.hidden).map(e => e.id)"
    )


def test_a_filter_hides_prompts_and_counts_the_matches_on_every_page(browser, view):
    page, dialogs, errors = open_page(browser, view / "m2" / "page-0001.html")
    assert visible_ids(page) == ["p0", "p1", "p2"]
    page.check("input[name=unparsed]")
    assert visible_ids(page) == ["p2"]
    assert page.inner_text("#shown") == "1 of 3 prompts on this page shown"
    # p2..p6 have an unparsed sample: 1 here, 3 on page 2, 1 on page 3
    elsewhere = page.inner_text("#elsewhere")
    assert elsewhere.startswith("5 of 7 prompts of the iteration match")
    assert "page 2 (3)" in elsewhere and "page 3 (1)" in elsewhere
    assert page.url.endswith("#unparsed")  # the filter is in the address
    page.click("#elsewhere a >> text=page 2 (3)")
    page.wait_for_url("**/page-0002.html#unparsed")
    assert page.is_checked("input[name=unparsed]")
    assert visible_ids(page) == ["p3", "p4", "p5"]
    page.uncheck("input[name=unparsed]")
    page.fill("input[name=min_chars]", "1000")
    assert visible_ids(page) == []
    assert page.inner_text("#elsewhere").startswith("0 of 7 prompts")
    assert not dialogs and not errors


def test_a_link_with_a_filter_opens_the_page_filtered(browser, view):
    page, _, errors = open_page(browser, view / "m2" / "page-0002.html")
    page.goto((view / "m2" / "page-0001.html").as_uri() + "#tie")
    assert page.is_checked("input[name=tie]")
    assert visible_ids(page) == ["p1", "p2"]  # p1 ties, p2 has one scored candidate
    assert not errors


def test_a_pair_is_shown_with_its_judge_samples(browser, view):
    page, dialogs, _ = open_page(browser, view / "m2" / "page-0001.html")
    page.check("input[name=pair]")
    assert visible_ids(page) == ["p0"]
    section = page.locator("section#p0")
    assert "chosen: 5.00" in section.locator(".chosen h3").inner_text()
    assert "rejected: 2.00" in section.locator(".rejected h3").inner_text()
    sample = section.locator("tr.chosen details.sample").first
    assert not sample.locator("pre").is_visible()  # closed until clicked
    sample.locator("summary").click()
    assert sample.locator("pre").is_visible()
    assert "Score: 5.0" in sample.locator("pre").inner_text()
    assert "P(score)" in sample.inner_text()
    assert not dialogs


def test_hostile_model_output_stays_text_in_the_browser(browser, view):
    page, dialogs, errors = open_page(browser, view / "m2" / "page-0001.html")
    for details in page.locator("details").all():
        details.locator("summary").click()  # every judge text shown
    # the answer and the judge texts are on the page, as text
    assert HOSTILE in page.locator("section#p0 div.rejected pre").inner_text()
    assert HOSTILE in page.locator("section#p0 details pre").first.inner_text()
    assert page.eval_on_selector_all("img", "els => els.length") == 0
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert scripts == ["flags.js", "../assets/view.js"]
    assert not dialogs and not errors
