"""The claims list in a real browser: filter by stage, search by order number and open the claim from its row
(also one whose order number is not its order id), the <script> customer found and shown as text, and the CSV
download of the filtered list."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.pages import alert_text, body_text, http_session, login, path, submit, words
from tests.browser.seed import SCRIPT_NAME, SeededStore

pytestmark = pytest.mark.browser


def claims_page(driver, console, lang: str = "de") -> None:
    seeded: SeededStore = console.seeded
    login(driver, console.url, "clara", seeded.users["clara"][1])
    driver.find_element(By.LINK_TEXT, words("nav.claims", lang)).click()
    assert path(driver) == "/claims", path(driver)


def filter_form(driver):
    return driver.find_element(By.CSS_SELECTOR, "form.filters")


def rows(driver) -> list[list[str]]:
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "table.claims tbody tr")]


def search(driver, text: str) -> list[list[str]]:
    form = filter_form(driver)
    field = form.find_element(By.NAME, "q")
    field.clear()
    field.send_keys(text)
    submit(driver, form)
    return rows(driver)


def test_the_list_filters_by_stage_and_a_searched_claim_opens_from_its_row(open_browser, console, shots) -> None:
    seeded: SeededStore = console.seeded
    driver = open_browser("de")
    claims_page(driver, console)
    assert driver.find_element(By.TAG_NAME, "h1").text == words("claims.title", "de")
    assert rows(driver), "the claims list shows no claim"
    shots.take(driver, "claims-de")
    form = filter_form(driver)
    Select(form.find_element(By.NAME, "stage")).select_by_value("reminder")
    submit(driver, form)
    shown = {cells[0] for cells in rows(driver)}
    assert "stage=reminder" in path(driver)
    assert set(seeded.by_stage["reminder"]) - {seeded.review_order} <= shown <= set(seeded.by_stage["reminder"]), \
        f"the stage filter shows {sorted(shown)}, the store has {seeded.by_stage['reminder']} at reminder"
    Select(filter_form(driver).find_element(By.NAME, "stage")).select_by_value("")
    for number in (seeded.at_stage("dunning_1"), next(iter(seeded.numbered))):
        found = search(driver, number)
        assert [cells[0] for cells in found] == [number], f"the search for order {number} shows {found}"
        driver.find_element(By.LINK_TEXT, number).click()
        heading = driver.find_element(By.TAG_NAME, "h1").text
        assert number in heading, f"the row of order {number} leads to {path(driver)}: {body_text(driver)[:300]}"
        assert path(driver) == seeded.claim_path(number), path(driver)
        driver.back()


def test_the_script_customer_is_found_and_shown_as_text(open_browser, console) -> None:
    seeded: SeededStore = console.seeded
    driver = open_browser("de")
    claims_page(driver, console)
    found = search(driver, SCRIPT_NAME)
    assert alert_text(driver) is None, "the list ran the customer's name as a script"
    assert [cells[0] for cells in found] == [seeded.script_order], found
    assert SCRIPT_NAME in found[0][2], f"the customer cell shows {found[0][2]!r}"
    assert driver.find_element(By.NAME, "q").get_attribute("value") == SCRIPT_NAME


def test_the_filtered_list_downloads_as_csv(open_browser, console) -> None:
    seeded: SeededStore = console.seeded
    driver = open_browser("de")
    claims_page(driver, console)
    search(driver, SCRIPT_NAME)
    link = driver.find_element(By.LINK_TEXT, words("claims.csv", "de")).get_attribute("href")
    answer = http_session(driver).get(link, timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv"), answer.status_code
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and seeded.script_order in lines[1] and SCRIPT_NAME in lines[1], lines
    assert ";" in lines[0], "the German CSV is not separated by semicolons"
