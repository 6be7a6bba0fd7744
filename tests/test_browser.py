"""The HTML reports as a person sees them, in headless Chromium.

Over every sample's case report (written by ``npsdiag batch``, so with the link back to the
index), the batch index, and a report made of hostile text: no console error, no request
but the page itself, no injected element or script, no sideways scroll at 420 px, problem
1's title and fix in the first 1366 x 900 screen, problem 1 on the first printed page, the
filters working under the page's Content-Security-Policy, and everything shown without
JavaScript. Skips, saying how to install it, where Chromium is missing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from npsdiag.batch import run_batch
from npsdiag.report import write_report
from tests.browser import Browser, chromium, missing_browser
from tests.report_fixtures import build_analysis, build_options
from tests.test_reports import hostile_analysis, hostile_options

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
]

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_NAMES = sorted(path.name for path in SAMPLES.iterdir() if path.is_dir())

#: Text that would run, load or add something if a report let it through as markup.
INJECTION = (
    '<script>window.npsdiagInjected = 1</script><img src="https://evil.invalid/x.png" '
    "onerror=\"window.npsdiagInjected = 2\"><iframe src='https://evil.invalid/'></iframe>"
    '<link rel="stylesheet" href="https://evil.invalid/x.css"><b>bold</b> '
    "https://evil.invalid/a/very/long/path/" + "segment/" * 20 + " " + "u" * 250 + "@contoso.com"
)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every page under test, by name: the case reports, the index, the hostile report."""
    folder = tmp_path_factory.mktemp("pages")
    run_batch([str(SAMPLES)], folder / "review", workers=1, command_line="npsdiag batch samples")
    found = {name: folder / "review" / name / "report.html" for name in SAMPLE_NAMES}
    found["index"] = folder / "review" / "index.html"
    found["hostile"] = write_report(
        "html", hostile_analysis(INJECTION), folder / "hostile.html", hostile_options(INJECTION)
    )
    found["fixture"] = write_report(
        "html", build_analysis(), folder / "fixture.html", build_options()
    )
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with chromium(tmp_path_factory.mktemp("profile")) as started:
        yield started


PAGES = [*SAMPLE_NAMES, "index", "hostile", "fixture"]


def _words(text: str) -> str:
    """Text as words, the same from the page and from the PDF (ligatures, quotes, breaks)."""
    plain = unicodedata.normalize("NFKC", text)
    return " ".join(re.findall(r"[0-9A-Za-z]+", plain)).lower()


@pytest.mark.parametrize("name", PAGES)
def test_the_page_is_quiet_closed_and_fits_a_phone(
    browser: Browser, pages: dict[str, Path], name: str
) -> None:
    page = pages[name]
    browser.open(page, 1366, 900)
    assert browser.console_errors() == []
    # Nothing is fetched: the one request is the file itself.
    assert browser.requests() == [page.resolve().as_uri()]
    # No element the page did not write itself, and nothing injected ran.
    assert browser.run("return window.npsdiagInjected === undefined")
    foreign = "img, iframe, object, embed, link, base, form, audio, video, meta[http-equiv=refresh]"
    assert browser.run(f"return document.querySelectorAll('{foreign}').length") == 0
    scripts = browser.run("return Array.from(document.scripts).map(s => s.src || 'inline')")
    assert scripts == ([] if name == "index" else ["inline"])
    # At 420 px nothing scrolls sideways; long names and paths wrap.
    browser.resize(420, 900)
    width = browser.run(
        "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
    )
    assert width <= 420, f"{name} is {width} px wide at 420 px"
    assert browser.console_errors() == []


@pytest.mark.parametrize("name", [*SAMPLE_NAMES, "fixture"])
def test_problem_one_and_its_fix_are_on_the_first_screen_and_the_first_page(
    browser: Browser, pages: dict[str, Path], name: str
) -> None:
    browser.open(pages[name], 1366, 900)
    first = browser.run(
        """
        const item = document.querySelector('#diagnosis ol.overview > li');
        if (!item) { return null; }
        const title = item.querySelector('a').getBoundingClientRect();
        const lead = item.querySelector('.lead');
        return {
          title: item.querySelector('a').textContent,
          lead: lead ? lead.textContent : '',
          bottom: Math.max(title.bottom, lead ? lead.getBoundingClientRect().bottom : 0),
        };
        """
    )
    printed = browser.pdf_pages()
    if first is None:  # no problem: the verdict leads instead
        verdict = browser.run(
            "const v = document.querySelector('#diagnosis .verdict, #diagnosis .cannot-tell');"
            "return [v.textContent, v.getBoundingClientRect().bottom];"
        )
        assert verdict[1] <= 900
        assert _words(verdict[0])[:40] in _words(printed[0])
        return
    assert first["bottom"] <= 900, f"problem 1 of {name} ends at {first['bottom']} px"
    assert first["lead"].startswith(("Fix:", "Next:"))
    page_one = _words(printed[0])
    assert _words(first["title"]) in page_one
    assert _words(first["lead"])[:60] in page_one
    # The file inventory comes last, compact.
    files_page = next(
        number for number, text in enumerate(printed) if "What was read from each input" in text
    )
    assert files_page >= len(printed) - 2


def test_the_filters_work_inside_the_content_security_policy(
    browser: Browser, pages: dict[str, Path]
) -> None:
    browser.open(pages["mixed"], 1366, 900)
    assert browser.console_errors() == []  # the CSP let the script run: its hash matches
    visible = browser.run(
        "return Array.from(document.querySelectorAll('.filters')).map(f => !f.hidden)"
    )
    assert visible == [True, True]  # users, incidents
    counts = browser.run(
        """
        const box = document.querySelector('.filters[data-list=incident-list]');
        const shown = () => Array.from(document.querySelectorAll('#incident-list > article'))
          .filter(a => !a.hidden).length;
        const all = shown();
        const outcome = box.querySelector('select[name=outcome]');
        outcome.value = 'rejected';
        outcome.dispatchEvent(new Event('input'));
        const rejected = shown();
        outcome.value = '';
        const search = box.querySelector('input[type=search]');
        search.value = 'ada.byrne';
        search.dispatchEvent(new Event('input'));
        const ada = shown();
        return [all, rejected, ada, box.querySelector('output').textContent];
        """
    )
    everything, rejected, ada, said = counts
    assert 0 < rejected < everything and 0 < ada < everything
    assert said == f"Showing {ada} of {everything} listed"
    order = browser.run(
        """
        const box = document.querySelector('.filters[data-list=user-table]');
        const sort = box.querySelector('select[name=sort]');
        sort.value = 'name';
        sort.dispatchEvent(new Event('input'));
        return Array.from(document.querySelectorAll('#user-table > tbody'))
          .map(b => b.getAttribute('data-user'));
        """
    )
    assert order == sorted(order, key=str.lower) and len(order) == 5


def test_without_javascript_everything_is_there(browser: Browser, pages: dict[str, Path]) -> None:
    browser.open(pages["mixed"], 1366, 900, script=False)
    shown = browser.run(
        """
        return {
          filters: Array.from(document.querySelectorAll('.filters'))
            .filter(f => f.offsetParent !== null).length,
          incidents: Array.from(document.querySelectorAll('#incident-list > article'))
            .filter(a => a.offsetParent !== null).length,
          listed: document.querySelectorAll('#incident-list > article').length,
        };
        """
    )
    assert shown["filters"] == 0  # controls that could not work are not shown
    assert shown["incidents"] == shown["listed"] > 0


def test_the_index_links_causes_to_their_cases_and_back(
    browser: Browser, pages: dict[str, Path]
) -> None:
    browser.open(pages["index"], 1366, 900)
    links = browser.run(
        "return Array.from(document.querySelectorAll('#causes a[href*=\"#cause-\"]'))"
        ".map(a => a.getAttribute('href'))"
    )
    assert "cert-expired/report.html#cause-ext.ests-token-error.aadsts700027" in links
    target = pages["cert-expired"]
    browser.open(target, 1366, 900)
    browser.driver.get(target.resolve().as_uri() + "#cause-ext.ests-token-error.aadsts700027")
    top = browser.run(
        "return document.getElementById('cause-ext.ests-token-error.aadsts700027')"
        ".getBoundingClientRect().top"
    )
    assert -2 <= top < 900  # the link lands on the problem
    back = browser.run("return document.querySelector('.back a').getAttribute('href')")
    assert back == "../index.html"
    command = browser.run("return document.querySelector('#about dd code').textContent")
    assert command == "npsdiag batch samples"


def test_hostile_text_stays_text(browser: Browser, pages: dict[str, Path]) -> None:
    browser.open(pages["hostile"], 1366, 900)
    text = browser.run("return document.body.innerText")
    assert "<script>window.npsdiagInjected = 1</script>" in text
    assert browser.run("return document.querySelectorAll('b').length") == 0
    assert re.search(r"u{250}@contoso\.com", text.replace("\n", ""))
