"""The console in a real browser: logging in, the overview in German and English, the user's language setting,
and a POST without its CSRF token refused. `mahnwerk web` runs as a real process on the seeded store."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By

from tests.browser.pages import body_text, csrf_token, http_session, login, path, settled, words
from tests.browser.seed import SHOP_ID

pytestmark = pytest.mark.browser

GERMAN_MONEY = re.compile(r"\d{1,3}(\.\d{3})*,\d\d\s€")  # 1.234,56 €
ENGLISH_MONEY = re.compile(r"€\d{1,3}(,\d{3})*\.\d\d")  # €1,234.56


def log_in(driver, console, name: str) -> None:
    login(driver, console.url, name, console.seeded.users[name][1])


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_clerk_logs_in_and_reads_the_overview_in_the_browsers_language(open_browser, console, shots,
                                                                          lang: str) -> None:
    driver = open_browser(lang)
    driver.get(console.url + "/")
    assert path(driver).startswith("/login"), f"the overview showed without a login: {path(driver)}"
    assert words("login.title", lang) in body_text(driver)
    log_in(driver, console, "clara")
    assert path(driver) == "/", f"after the login the browser is at {path(driver)}, not the overview"
    text = body_text(driver)
    assert driver.find_element(By.TAG_NAME, "h1").text == words("overview.title", lang)
    assert f"clara ({words('role.clerk', lang)})" in text
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    card = driver.find_element(By.ID, f"shop-{SHOP_ID}").text  # the shop's card: its sync, claims, queues
    for key in ("overview.last_sync", "overview.open", "overview.next_run", "overview.payments_waiting"):
        assert words(key, lang) in card, f"the shop's card lacks {words(key, lang)!r}:\n{card}"
    money = GERMAN_MONEY if lang == "de" else ENGLISH_MONEY
    assert money.search(text), f"no amount in the {lang} format on the overview:\n{text}"
    assert driver.find_elements(By.CSS_SELECTOR, "svg"), "the overview has no aging chart (SVG)"
    shots.take(driver, f"overview-{lang}")


def test_a_wrong_password_is_refused_with_a_message(open_browser, console) -> None:
    driver = open_browser("de")
    driver.get(f"{console.url}/login")
    driver.find_element(By.NAME, "name").send_keys("clara")
    driver.find_element(By.NAME, "password").send_keys("not-her-password")
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    [error] = settled(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.error"))
    assert error.text == words("login.failed", "de")
    assert path(driver).startswith("/login") and not driver.find_elements(By.CSS_SELECTOR, ".me")


def test_the_users_language_setting_wins_over_the_browsers(open_browser, console) -> None:
    driver = open_browser("de")
    log_in(driver, console, "viktor")
    assert driver.find_element(By.TAG_NAME, "h1").text == words("overview.title", "de")
    try:
        choose_language(driver, "en")
        assert driver.find_element(By.TAG_NAME, "h1").text == words("overview.title", "en")
        assert f"viktor ({words('role.viewer', 'en')})" in body_text(driver)
    finally:
        choose_language(driver, "")  # as the browser again: other tests log viktor in too
    assert driver.find_element(By.TAG_NAME, "h1").text == words("overview.title", "de")


def choose_language(driver, lang: str) -> None:
    from selenium.webdriver.support.ui import Select

    from tests.browser.pages import submit

    form = driver.find_element(By.CSS_SELECTOR, "form[action='/lang']")
    Select(form.find_element(By.NAME, "lang")).select_by_value(lang)
    submit(driver, form)


def test_a_post_without_its_csrf_token_is_refused(open_browser, console) -> None:
    driver = open_browser("de")
    log_in(driver, console, "clara")
    session = http_session(driver)  # the browser's login, for a request no form of the console would send
    refused = session.post(f"{console.url}/lang", data={"lang": "en", "next": "/"}, allow_redirects=False)
    assert refused.status_code == 400, f"a POST without token answered {refused.status_code}"
    wrong = session.post(f"{console.url}/lang", data={"lang": "en", "csrf_token": "forged"}, allow_redirects=False)
    assert wrong.status_code == 400, f"a POST with a forged token answered {wrong.status_code}"
    driver.refresh()
    assert driver.find_element(By.TAG_NAME, "h1").text == words("overview.title", "de"), "the refused POST acted"
    token = csrf_token(driver)
    for lang in ("en", ""):  # the same request with the page's token goes through (and is undone)
        done = session.post(f"{console.url}/lang", data={"lang": lang, "next": "/", "csrf_token": token},
                            allow_redirects=False)
        assert done.status_code == 302, f"the POST with the page's token answered {done.status_code}"
