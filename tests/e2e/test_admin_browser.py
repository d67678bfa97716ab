"""The back-office in a real headless Chromium: sign-in with password and TOTP through the themed login,
the dashboard's figures against the lists they link to, a customer's 360 page with its chart and
breakdown, replaying a failed delivery and closing a task from "My tasks". Each test saves a screenshot
in its temporary folder.

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
    options.add_argument("--window-size=1440,1200")
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


def test_password_without_the_code_shows_no_data(browser, live_server, operator, tmp_path):
    sign_in(browser, live_server.url, "")
    assert "/admin/login/" in browser.current_url
    browser.save_screenshot(tmp_path / "login-refused-without-code.png")
    browser.get(f"{live_server.url}/admin/customers/customer/")
    assert "/admin/login/" in browser.current_url
    assert "Browser Visible Co" not in browser.page_source


def test_password_and_code_open_the_customer_360(browser, live_server, operator, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(f"{live_server.url}/admin/")
    assert browser.find_element(By.NAME, "otp_token").get_attribute("autocomplete") == "one-time-code"
    browser.save_screenshot(tmp_path / "themed-login.png")
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    assert "/admin/login/" not in browser.current_url, browser.page_source[:500]
    assert browser.find_element(By.ID, "dashboard")
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


def _result_count(browser) -> int:
    from selenium.webdriver.common.by import By

    return int(browser.find_element(By.ID, "result-count").get_attribute("data-result-count"))


def test_each_dashboard_figure_equals_the_count_behind_its_link(browser, live_server, operator, tmp_path):
    from selenium.webdriver.common.by import By

    levels = ("low", "medium", "high", "critical")
    Customer.objects.bulk_create(
        Customer(
            customer_id=f"cust_fig{i:03d}",
            name=f"Figure {i}",
            health_score=i * 9 % 101,
            risk_level=levels[i % 4],
            lifecycle_stage=("onboarding", "adoption", "at_risk", "renewal")[i % 4],
            arr=1000 * (i + 1),
        )
        for i in range(30)
    )
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    browser.get(f"{live_server.url}/admin/")
    browser.save_screenshot(tmp_path / "dashboard.png")
    figures = [
        (
            element.get_attribute("data-figure"),
            element.get_attribute("href"),
            int(element.get_attribute("data-count")),
            element.find_element(By.CLASS_NAME, "bo-figure-value").text,
        )
        for element in browser.find_elements(By.CSS_SELECTOR, "a.bo-figure")
    ]
    assert len(figures) >= 20
    assert {"Critical risk", "ARR at risk (high + critical)", "Overdue tasks", "Failing endpoints"} <= {
        label for label, *_ in figures
    }
    for label, href, count, value in figures:
        browser.get(href)
        assert _result_count(browser) == count, (label, href)
        if value.isdigit():
            assert int(value) == count, label
    browser.get(figures[0][1])
    browser.save_screenshot(tmp_path / "list-behind-a-figure.png")


def test_the_360_shows_the_health_chart_and_the_breakdown(browser, live_server, operator, tmp_path):
    from datetime import timedelta

    from django.utils import timezone
    from selenium.webdriver.common.by import By

    from domains.customers import health
    from domains.customers.models import HealthSnapshot

    now = timezone.now()
    for days_ago, logins in ((70, 22.0), (45, 15.0), (20, 9.0), (2, 4.0)):
        health.health_signals_record(
            items=[
                health.SignalInput(
                    "cust_browser", {"login_frequency": logins}, now - timedelta(days=days_ago)
                )
            ]
        )
    HealthSnapshot.objects.filter(customer_id="cust_browser", source="initial").update(
        observed_at=now - timedelta(days=80)
    )
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    browser.get(f"{live_server.url}/admin/customers/customer/cust_browser/change/")
    points = browser.find_elements(By.CSS_SELECTOR, "#section-health-history svg.chart-line circle.point")
    scores = [int(point.get_attribute("data-value")) for point in points]
    assert scores == list(
        HealthSnapshot.objects.filter(customer_id="cust_browser", applied=True)
        .order_by("observed_at", "id")
        .values_list("score", flat=True)
    )
    bars = browser.find_elements(By.CSS_SELECTOR, "#section-breakdown svg g.mark")
    assert "login_frequency" in {bar.get_attribute("data-label") for bar in bars}
    assert browser.find_elements(By.CSS_SELECTOR, "#breakdown-table tr[data-measure]")
    browser.save_screenshot(tmp_path / "customer-360.png")
    navigate(browser, browser.find_element(By.ID, "edit-customer"))
    assert browser.find_element(By.NAME, "name").get_attribute("value") == "Browser Visible Co"


def test_a_failed_delivery_is_replayed_from_the_admin(browser, live_server, operator, settings, tmp_path):
    from django.utils import timezone
    from selenium.webdriver.common.by import By

    from csintegration.clients.services import client_create
    from webhooks import endpoints
    from webhooks.models import Attempt, Delivery, DeliveryStatus, Message

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    client = client_create(name="browser hooks", scopes="webhooks:manage customers:read").client
    endpoint, _ = endpoints.endpoint_create(client=client, url="http://127.0.0.1:9/hooks", event_types=["*"])
    message = Message.objects.create(
        event_id="evt_browser", event_type="churn_risk_detected", body="{}", occurred_at=timezone.now()
    )
    delivery = Delivery.objects.create(
        message=message, endpoint=endpoint, event_type=message.event_type, status=DeliveryStatus.FAILED
    )
    Attempt.objects.create(delivery=delivery, number=1, status_code=500, response_excerpt="receiver exploded")
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    browser.get(f"{live_server.url}/admin/webhooks/delivery/?status__exact=failed")
    assert _result_count(browser) == 1
    browser.get(f"{live_server.url}/admin/webhooks/delivery/{delivery.pk}/change/")
    navigate(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Replay"))
    delivery.refresh_from_db()
    assert delivery.replay_count == 1 and delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
    assert "queued again" in browser.page_source
    browser.save_screenshot(tmp_path / "delivery-replayed.png")


def test_a_task_is_closed_from_my_tasks(browser, live_server, operator, tmp_path):
    from datetime import timedelta

    from django.utils import timezone
    from selenium.webdriver.common.by import By

    from domains.operations.models import CSTask, SuccessManager

    manager = SuccessManager.objects.create(
        user=get_user_model().objects.get(username="operator"), email="operator@example.com"
    )
    task = CSTask.objects.create(
        kind="check_in",
        title="Call Browser Visible Co about adoption",
        customer_id="cust_browser",
        assignee=manager,
        due_at=timezone.now() - timedelta(hours=3),
    )
    sign_in(browser, live_server.url, totp_current_code(username="operator"))
    browser.get(f"{live_server.url}/admin/operations/mytask/")
    assert _result_count(browser) == 1
    browser.save_screenshot(tmp_path / "my-tasks.png")
    browser.get(f"{live_server.url}/admin/operations/mytask/{task.pk}/change/")
    navigate(browser, browser.find_element(By.CSS_SELECTOR, f"a[href$='/{task.pk}/close/']"))
    task.refresh_from_db()
    assert task.status == "done" and task.completed_at is not None
    assert "done." in browser.page_source
    browser.save_screenshot(tmp_path / "task-closed.png")
