"""The workspace in a real headless Chromium: a city officer signs in, edits their city, sees the
edit in their twins' explanations, posts a need and sees matched offers and organisations, and
cannot edit another city. Screenshots under artifacts/screenshots/ for a person to look at."""
from __future__ import annotations

import time

import pytest

from matcher.workspace import create_user, init_workspace, profile_history

from .conftest import streamlit_server
from .test_app_workspace import BARRIER, LYON, MK, OFFICER, PASSWORD, SECTOR, seed_board
from .test_browser import ARGS, CHROMIUM, SHOTS

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def workspace_app(real_recommender, real_index_dir, tmp_path_factory):
    """The app on a new SQLite workspace with an admin, Milton Keynes' officer, an offer from Lyon
    and an approved organisation; yields (url, workspace)."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium package")
    url = f"sqlite:///{tmp_path_factory.mktemp('browser_ws') / 'workspace.db'}"
    ws, admin = init_workspace(url, admin_email="admin@example.org", admin_password=PASSWORD)
    create_user(ws, OFFICER, PASSWORD, "officer", admin, city_id=MK)
    seed_board(ws, admin)
    with streamlit_server(real_index_dir, db_url=url) as app_url:
        yield app_url, ws


def _settle(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]') && "
                           "!document.querySelector('[data-testid=\"stSpinner\"]')", timeout=180_000)
    time.sleep(1.5)


def _wait_text(page, text: str, timeout: int = 120_000) -> None:
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def _choose(page, key: str, typed: str) -> None:
    """Type into a select box or multi-select and take the first option."""
    page.locator(f".st-key-{key} input").first.click()
    page.keyboard.type(typed)
    page.keyboard.press("Enter")
    page.locator("h1").first.click()  # closes the open list (it hides the rest of the page from a reader)


def _go(page, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    _settle(page)


def test_officer_journey_in_chromium(workspace_app):
    from playwright.sync_api import sync_playwright

    url, ws = workspace_app
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
        page.goto(url)
        page.wait_for_selector('[data-testid="stDataFrame"]:visible', timeout=180_000)
        _settle(page)
        before = page.inner_text("body")
        # sign in
        page.locator('[data-testid="stSidebar"]').get_by_text("Sign in", exact=True).first.click()
        page.locator(".st-key-ws_email input").fill(OFFICER)
        page.locator(".st-key-ws_password input").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        _wait_text(page, "Signed in as")
        # my city: add a barrier and a sector, save
        _go(page, "My city")
        page.wait_for_selector(f".st-key-mc_barriers_{MK}_0", timeout=120_000)
        _choose(page, f"mc_barriers_{MK}_0", BARRIER)
        _choose(page, f"mc_priority_sectors_{MK}_0", SECTOR)
        page.get_by_role("button", name="Save a new version").click()
        _wait_text(page, "Saved version 1")
        _settle(page)
        page.screenshot(path=str(SHOTS / "workspace_my_city_saved.png"), full_page=True)
        # the edit is in the twins' explanations
        _go(page, "Find twins")
        _wait_text(page, "Twins for Milton Keynes")
        _wait_text(page, f"shared barriers: {BARRIER}")
        _settle(page)
        page.screenshot(path=str(SHOTS / "workspace_twins_after_edit.png"), full_page=True)
        # post a need: matched offers and organisations
        _go(page, "Board")
        page.wait_for_selector(".st-key-bp_text textarea", timeout=120_000)
        _choose(page, "bp_tags", SECTOR)
        page.locator(".st-key-bp_text textarea").fill("We need help procuring heat pumps for social housing")
        page.get_by_role("button", name="Post", exact=True).click()
        _wait_text(page, "Posted #2")
        _wait_text(page, "Heat Pump Partners")
        _settle(page)
        page.screenshot(path=str(SHOTS / "workspace_board_matches.png"), full_page=True)
        board = page.inner_text("body")
        # another city: the form is there, the save is refused by the library
        _go(page, "My city")
        _choose(page, "mc_city", "Lyon (FR)")
        page.wait_for_selector(f".st-key-mc_barriers_{LYON}_0", timeout=120_000)
        _settle(page)
        _choose(page, f"mc_barriers_{LYON}_0", BARRIER)
        page.get_by_role("button", name="Save a new version").click()
        _wait_text(page, "cannot edit the profile of")
        _settle(page)
        page.screenshot(path=str(SHOTS / "workspace_other_city_refused.png"), full_page=True)
        refused = page.inner_text("body")
        browser.close()
    assert f"shared barriers: {BARRIER}" not in before
    offers = board.split("Offers for this need", 1)[1]
    assert "We can share our joint procurement framework" in offers.split("Organisations", 1)[0]
    assert "Heat Pump Partners" in offers.split("Organisations", 1)[1]
    assert "Only Lyon's officer or an admin can save changes" in refused and "Traceback" not in refused
    history = profile_history(ws, MK)
    assert len(history) == 2 and history[1].profile["barriers"] == [BARRIER]
    assert SECTOR in history[1].profile["priority_sectors"]
    assert [v.version for v in profile_history(ws, LYON)] == [0]
    for name in ("workspace_my_city_saved", "workspace_twins_after_edit", "workspace_board_matches",
                 "workspace_other_city_refused"):
        assert (SHOTS / f"{name}.png").stat().st_size > 50_000
