"""The back-office in a real headless Chromium: sign-in with password and TOTP, then a customer's 360 page.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); without them the test
skips on the embedded run, and fails on the services run like any other skip.
"""

import shutil
import tempfile

import pytest
from django.contrib.auth import get_user_model

from csintegration.adminsite.totp import totp_current_code, totp_device_enroll
from domains.customers.models import Customer

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PASSWORD = "correct-Horse-battery-9"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="admin-browser-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def operator(db):
    get_user_model().objects.create_superuser("operator", "operator@example.com", PASSWORD)
    totp_device_enroll(username="operator")
    return Customer.objects.create(
        customer_id="cust_browser", name="Browser Visible Co", segment="enterprise", health_score=31
    )


def navigate(browser, element) -> None:
    """Click ``element`` and wait until the next page has loaded (a click returns before it has): the
    marker set on the current page is gone once the browser shows another document."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__before_navigation = true;")
    element.click()

    def next_page_loaded(driver) -> bool:
        try:
            return driver.execute_script(
                "return window.__before_navigation !== true && document.readyState === 'complete';"
            )
        except WebDriverException:  # the page is being replaced
            return False

    WebDriverWait(browser, 30).until(next_page_loaded)


def sign_in(browser, base_url: str, code: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/admin/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.NAME, "otp_token").send_keys(code)
    navigate(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]"))


def follow(browser, link_text: str) -> None:
    from selenium.webdriver.common.by import By

    navigate(browser, browser.find_element(By.LINK_TEXT, link_text))


def test_password_without_the_code_shows_no_data(browser, live_server, operator):
    sign_in(browser, live_server.url, "")
    assert "/admin/login/" in browser.current_url
    browser.get(f"{live_server.url}/admin/customers/customer/")
    assert "/admin/login/" in browser.current_url
    assert "Browser Visible Co" not in browser.page_source


def test_password_and_code_open_the_customer_360(browser, live_server, operator):
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    assert "/admin/login/" not in browser.current_url, browser.page_source[:500]
    browser.get(f"{live_server.url}/admin/customers/customer/?q=Browser")
    assert "Browser Visible Co" in browser.page_source
    browser.get(f"{live_server.url}/admin/customers/customer/cust_browser/change/")
    page = browser.page_source
    assert "Browser Visible Co" in page and "cust_browser" in page


def test_the_customer_360_links_its_events_and_deliveries(browser, live_server, operator):

    from csintegration.events import publish

    event = publish("churn_risk_detected", customer_id="cust_browser", payload={"risk_level": "high"})
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    browser.get(f"{live_server.url}/admin/customers/customer/cust_browser/change/")
    assert event.event_id in browser.page_source
    follow(browser, "All events")
    assert event.event_id in browser.page_source and "churn_risk_detected" in browser.page_source
    browser.get(f"{live_server.url}/admin/customers/customer/cust_browser/change/")
    follow(browser, "Webhook deliveries")
    assert "/admin/webhooks/delivery/" in browser.current_url
