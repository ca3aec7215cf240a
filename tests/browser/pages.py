"""What the browser tests read from a page, and how they wait for it (never a bare sleep)."""

from __future__ import annotations

from typing import Any

ALERT_WAIT = 1.5  # seconds a script would need to open an alert after the page has loaded
NAVIGATION_WAIT = 15.0


def settled(driver: Any, timeout: float = NAVIGATION_WAIT) -> Any:
    """A wait for the page after a click: asked while the browser swaps documents, chromedriver may answer with
    an error about a node of the old one; that means "not yet", the wait's timeout decides."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))


def body_text(driver: Any) -> str:
    """The page's visible text."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def alert_text(driver: Any, wait: float = ALERT_WAIT) -> str | None:
    """The text of an alert the page opened within `wait` seconds (dismissed), or None when it opened none."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        alert = WebDriverWait(driver, wait).until(expected_conditions.alert_is_present())
    except TimeoutException:
        return None
    text = alert.text
    alert.dismiss()
    return text


def words(key: str, lang: str, **values: Any) -> str:
    """The console's text for `key` in `lang` (every page module's texts, loaded as the app loads them)."""
    from mahnwerk.sync.web.app import pages_modules
    from mahnwerk.sync.web.texts import LANGS, TEXTS

    pages_modules()  # each page adds its words when imported
    assert key in TEXTS, f"the console has no text {key!r}"
    text = TEXTS[key][LANGS.index(lang)]
    return text.format(**values) if values else text


def login(driver: Any, url: str, name: str, password: str) -> None:
    """Log in through the form; AssertionError with the page's message when the console refuses."""
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    settled(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".me, .flash.error"))
    assert driver.find_elements(By.CSS_SELECTOR, ".me"), f"{name} was not logged in: {body_text(driver)}"


def path(driver: Any) -> str:
    """The path (and query) the browser shows."""
    from urllib.parse import urlsplit

    parts = urlsplit(driver.current_url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def submit(driver: Any, form: Any) -> None:
    """Submit `form` with its own button and wait for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    settled(driver).until(expected_conditions.staleness_of(form))


def http_session(driver: Any) -> Any:
    """A requests.Session with the browser's cookies: the same login, for requests a form would not send."""
    import requests

    session = requests.Session()
    for cookie in driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"], path=cookie.get("path", "/"))
    return session


def csrf_token(driver: Any) -> str:
    """The CSRF token of the page's forms."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.NAME, "csrf_token").get_attribute("value")


def post_forms(driver: Any) -> dict[str, Any]:
    """The page's POST forms by their action's path, without the layout's own (language, log out)."""
    from urllib.parse import urlsplit

    from selenium.webdriver.common.by import By

    found = {}
    for form in driver.find_elements(By.CSS_SELECTOR, "form[method=post]"):
        action = urlsplit(form.get_attribute("action")).path
        if action not in ("/lang", "/logout"):
            found[action] = form
    return found


def wait_for_text(driver: Any, wanted: str, timeout: float = 10) -> str:
    """The page's text once it shows `wanted` (after a navigation a script started); AssertionError with what the
    page shows instead."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException

    def shown(d: Any) -> str | None:
        try:
            text = body_text(d)
        except StaleElementReferenceException:
            return None
        return text if wanted in text else None

    try:
        return settled(driver, timeout).until(shown)
    except TimeoutException:
        raise AssertionError(f"the page does not show {wanted!r} within {timeout} s:\n{body_text(driver)}") from None
