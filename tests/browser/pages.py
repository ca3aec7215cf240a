"""What the browser tests read from a page, and how they wait for it (never a bare sleep)."""

from __future__ import annotations

from typing import Any

ALERT_WAIT = 1.5  # seconds a script would need to open an alert after the page has loaded


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
