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


def test_find_twins_page_in_chromium(app_url):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(app_url)
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=180_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                               timeout=60_000)
        page.wait_for_function("() => document.body.innerText.includes('Twins for Milton Keynes (GB)')", timeout=180_000)
        page.wait_for_selector('[data-testid="stDeckGlJsonChart"]', timeout=60_000)  # the map of asker and twins
        _settle(page)
        page.screenshot(path=str(SHOTS / "find_twins_milton_keynes.png"), full_page=True)

        page.locator('.st-key-twins_city [data-testid="stSelectbox"]').click()
        page.keyboard.type("Ghent (BE)")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.body.innerText.includes('Twins for Ghent (BE)')", timeout=60_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                               timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "find_twins_ghent.png"), full_page=True)
        text = page.inner_text("body")
        browser.close()
    assert "Explain a twin" in text and "score" in text
    assert "Traceback" not in text
    for name in ("find_twins_milton_keynes.png", "find_twins_ghent.png"):
        assert (SHOTS / name).stat().st_size > 50_000  # a rendered page, not a blank one


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
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=180_000)
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
