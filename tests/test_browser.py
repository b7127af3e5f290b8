"""The app in a real headless Chromium (Debian's package, driven by Playwright), with
screenshots saved for a person to look at, and the PDF brief rendered to PNG."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from .conftest import REPO, streamlit_server

pytestmark = pytest.mark.integration

SHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def app_url(real_recommender, real_index_dir):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium package")
    with streamlit_server(real_index_dir) as url:
        yield url


def _settle(page) -> None:
    """Wait until the script run is over (no status widget, no spinner), then let drawing finish."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]') && "
                           "!document.querySelector('[data-testid=\"stSpinner\"]')", timeout=180_000)
    time.sleep(2)


def _heading(page, text: str) -> None:
    page.wait_for_function("t => [...document.querySelectorAll('h3')].some(h => h.innerText.includes(t))", arg=text,
                           timeout=120_000)


def _open(p, url: str, width: int = 1400, height: int = 2000):
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    # offline: every request that is not to the app fails (no tile server, no CDN)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url.rstrip("/"))
               else route.abort())
    page.goto(url)
    page.wait_for_selector('[data-testid="stDataFrame"]:visible', timeout=180_000)
    return browser, page


def _box_value(page, key: str) -> str:
    """What a selectbox shows (its text or its input's value)."""
    return page.evaluate("k => { const b = document.querySelector('.st-key-' + k + ' [data-testid=\"stSelectbox\"]');"
                         " return b.innerText + ' ' + [...b.querySelectorAll('input')].map(i => i.value).join(' '); }",
                         key)


def _land_share(png) -> float:
    """The share of a map screenshot painted in the land colour of the outlines (#f2f0ea)."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    pixels = list(img.getdata())
    land = sum(1 for r, g, b in pixels if abs(r - 242) < 4 and abs(g - 240) < 4 and abs(b - 234) < 4)
    return land / len(pixels)


def _pick_city(page, typed: str) -> None:
    page.locator('.st-key-twins_city [data-testid="stSelectbox"]').click()
    page.keyboard.type(typed)
    page.keyboard.press("Enter")


def test_find_twins_page_in_chromium(app_url):
    """Journeys 1, 2, 9: the ticked row drives the explanation; the typed town and the list agree;
    the URL restores the view."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser, page = _open(p, app_url)
        page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                               timeout=60_000)
        _heading(page, "Twins for Milton Keynes (United Kingdom)")
        _settle(page)
        page.screenshot(path=str(SHOTS / "find_twins_milton_keynes.png"), full_page=True)
        twins_map = page.locator(".st-key-twins_map")
        twins_map.scroll_into_view_if_needed()
        page.wait_for_selector(".st-key-twins_map canvas, .st-key-twins_map svg", timeout=60_000)
        time.sleep(1)
        twins_map.screenshot(path=str(SHOTS / "find_twins_map_offline.png"))
        first_why = page.locator("h3", has_text="Why ").inner_text()

        # 1. tick the third row of the twins table: the explanation below follows it
        grid = page.locator('[data-testid="stDataFrame"]:visible').first.bounding_box()
        page.mouse.click(grid["x"] + 18, grid["y"] + 35 + 2 * 35 + 17)
        page.wait_for_function("() => [...document.querySelectorAll('h3')].some(h => h.innerText.includes('(rank 3)'))",
                               timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "find_twins_row_3_ticked.png"), full_page=True)
        third_why = page.locator("h3", has_text="Why ").inner_text()

        # 2. a town typed in the one city box (an exonym): the box and the heading agree
        _pick_city(page, "Cologne")
        _heading(page, "Twins for Köln (Germany)")
        _settle(page)
        box = _box_value(page, "twins_city")
        assert "(rank 1)" in page.locator("h3", has_text="Why ").inner_text()  # the tick did not carry over
        page.screenshot(path=str(SHOTS / "find_twins_typed_cologne.png"), full_page=True)
        # ... and then a city chosen from the list wins: no second input holds on to the typed town
        _pick_city(page, "Glasgow (GB)")
        _heading(page, "Twins for Glasgow (United Kingdom)")
        page.get_by_text("Exclude my country", exact=True).click()
        page.wait_for_function("() => location.search.includes('f_exclude_country=1')", timeout=60_000)
        _settle(page)
        shared = page.url

        # 9. the URL holds the view: a reload (or the link sent to a colleague) restores it
        page.goto(shared)
        page.wait_for_selector('[data-testid="stDataFrame"]:visible', timeout=180_000)
        _heading(page, "Twins for Glasgow (United Kingdom)")
        _settle(page)
        page.screenshot(path=str(SHOTS / "find_twins_url_restored.png"), full_page=True)
        restored_box = _box_value(page, "twins_city")
        excluded = page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"] input').nth(0).is_checked()
        text = page.inner_text("body")
        browser.close()
    assert _land_share(SHOTS / "find_twins_map_offline.png") > 0.2  # the shipped outlines, drawn offline
    assert first_why != third_why and "(rank 1)" in first_why and "(rank 3)" in third_why
    assert "Cologne" in box
    assert "twins_city=Glasgow" in shared and "f_exclude_country=1" in shared
    assert "Glasgow (GB)" in restored_box and excluded
    assert "Explain a twin" not in text and "Traceback" not in text and "None" not in text.split()
    for name in ("find_twins_milton_keynes.png", "find_twins_row_3_ticked.png", "find_twins_typed_cologne.png",
                 "find_twins_url_restored.png"):
        assert (SHOTS / name).stat().st_size > 50_000  # a rendered page, not a blank one


def test_narrow_screen_keeps_city_and_score(app_url):
    """Item 10: at 800 px the city and score columns stay in view (pinned), labels are whole."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, app_url, width=800, height=1400)
        _heading(page, "Twins for Milton Keynes")
        _settle(page)
        page.screenshot(path=str(SHOTS / "find_twins_800px.png"), full_page=False)
        grid = page.locator('[data-testid="stDataFrame"]:visible').first
        box = grid.bounding_box()
        headers = page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stDataFrame\"] th, "
                                "[data-testid=\"stDataFrame\"] [role=columnheader]')].map(h => h.innerText)")
        browser.close()
    assert box["x"] + box["width"] <= 800
    assert "score" in " ".join(headers) and "city" in " ".join(headers)


def test_impossible_cohort_rule_one_line_each_with_a_fix(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, app_url, height=1400)
        page.get_by_text("Cohorts", exact=True).click()
        page.wait_for_selector(".st-key-co_country input", timeout=120_000)
        page.locator(".st-key-co_country input").fill("2")
        page.keyboard.press("Enter")
        _settle(page)
        page.locator(".st-key-co_go button").click()
        page.wait_for_function("() => document.body.innerText.includes('cannot all hold')", timeout=120_000)
        _settle(page)
        alert = page.locator('[data-testid="stAlert"]').first
        alert.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "cohorts_impossible_rule.png"), full_page=True)
        items = alert.locator("li").all_inner_texts()
        browser.close()
    assert items and all("Try:" in item for item in items)
    assert any("United Kingdom has 28 cities, and 4 cohorts hold at most 8 of them" in item for item in items)


def test_pdf_brief_first_page_renders(real_recommender, tmp_path):
    from matcher.present import brief_pdf, twinning_brief

    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is not installed: scripts/test.sh installs Debian's poppler-utils")
    result = real_recommender.recommend("Kraków", k=3)
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(brief_pdf(twinning_brief(result, None, real_recommender.profiles)))
    SHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run([pdftoppm, "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(SHOTS / "brief_krakow")], check=True)
    png = SHOTS / "brief_krakow.png"
    assert png.stat().st_size > 20_000


def test_bad_upload_shows_row_and_column_errors(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    bad = tmp_path / "network_profiles.csv"
    bad.write_text("name,country_code,population,barriers\nAlpha,DE,120000,Lack of know-how and skills\n"
                   "Beta,XX,abc,lack of fundng\n", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(app_url)
        page.wait_for_selector('[data-testid="stDataFrame"]:visible', timeout=180_000)
        page.get_by_text("Data", exact=True).click()
        page.wait_for_function("() => document.body.innerText.includes('Check your network')", timeout=120_000)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
        page.wait_for_function("() => document.body.innerText.includes('nothing was loaded')", timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "data_bad_upload.png"), full_page=True)
        text = page.inner_text("body")
        browser.close()
    assert "3 problem(s)" in text
    assert "Traceback" not in text and str(tmp_path) not in text


def test_people_journeys_screenshots(app_url):
    """Items 3, 4, 5, 6, 10 as a person sees them: a search with nothing relevant, mentor mode's
    reason, the form in survey wording, the cohort map's legend, the data page's sources."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, app_url, height=1600)
        _heading(page, "Twins for Milton Keynes")
        # 4. mentor mode: the biggest term has its reason on the page
        page.get_by_text("Mentor mode: peers ahead where I am stuck", exact=True).click()
        _heading(page, "Mentors for Milton Keynes")
        _settle(page)
        page.screenshot(path=str(SHOTS / "mentors_milton_keynes.png"), full_page=True)
        mentor_text = page.inner_text("body")
        # 10. describe my city: a town from the list, survey wording
        page.get_by_text("Describe my city", exact=True).click()
        page.wait_for_selector(".st-key-own_town", timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "describe_my_city_form.png"), full_page=True)
        form_text = page.inner_text("body")
        # 3. case search with nothing relevant
        page.get_by_text("Case studies", exact=True).click()
        page.wait_for_selector(".st-key-case_query input", timeout=120_000)
        page.locator(".st-key-case_query input").fill("one-stop shop for home renovation")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.body.innerText.includes('Nothing relevant')", timeout=120_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "cases_nothing_relevant.png"), full_page=True)
        cases_text = page.inner_text("body")
        # 5. the cohort map with its legend, offline
        page.get_by_text("Cohorts", exact=True).click()
        page.wait_for_selector(".st-key-co_go button", timeout=120_000)
        page.locator(".st-key-co_go button").click()
        page.wait_for_selector(".st-key-cohorts_map canvas, .st-key-cohorts_map svg", timeout=180_000)
        _settle(page)
        page.locator(".st-key-cohorts_map").screenshot(path=str(SHOTS / "cohorts_map_offline.png"))
        # 6. the data page: names, 'unknown', readable sources
        page.get_by_text("Data", exact=True).click()
        page.wait_for_function("() => document.body.innerText.includes('city profiles')", timeout=120_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "data_page.png"), full_page=False)
        browser.close()
    assert "ahead of you" in mentor_text and "Ahead of you" in mentor_text
    assert "What are the main barriers and gaps your city faces?" in form_text and "Latitude" not in form_text
    assert "Weak matches" in cases_text and "BM25" not in cases_text.split("Technical detail")[0]
    assert _land_share(SHOTS / "cohorts_map_offline.png") > 0.1


def _warm_up_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("warm_up", REPO / "scripts" / "warm_up.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_warm_up_runs_both_pages_and_reports_an_error_it_sees(app_url):
    """scripts/run.sh warms the server up (scripts/warm_up.py): Find twins and Case studies run to
    the end over Streamlit's protocol before any visitor; a page showing an error fails it, and a
    server that does not answer fails it with the reason."""
    import asyncio
    import sys

    done = subprocess.run([sys.executable, "scripts/warm_up.py", app_url], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Warmed up: Find twins" in done.stderr and "Case studies" in done.stderr
    warm_up = _warm_up_module()
    problems = asyncio.run(warm_up.run_page(app_url, "twins_city=Qwxzyville", 120))
    assert problems and "Qwxzyville" in problems[0]  # the app's "no such town" box, seen as an error
    closed = subprocess.run([sys.executable, "scripts/warm_up.py", "http://127.0.0.1:9", "--timeout", "1"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 1 and "did not answer" in closed.stderr
