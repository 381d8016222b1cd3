"""The console's boards in a real browser (Debian's Chromium, driven by Playwright) against `cityline up`: a
department resolves an appeal and the resident's SMS reaches the SMS sink's outbox, a department user cannot open
another department's appeal, a supervisor sees an overdue appeal on the board, an operator triages by keyboard.
Elements are found by role and label, as a person sees them; the tests take the screenshots of docs/console/.

Due times are a few seconds in this stack (the dispatcher's due settings), so appeals become overdue while the tests
run; the supervisor board is recomputed every second."""

# The call desk's browser tests own the `browser` and `page` fixtures; imported here, they are parameters below.
# ruff: noqa: F811

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import CITYLINE, RunningStack
from tests.e2e.test_console_browser import (  # noqa: F401
    PASSWORD,
    SLOW_MS,
    browser,
    one_time_password,
    page,
    shoot,
    sign_in,
)

# Starting the stack and the command line can take minutes on a busy machine: longer than the default 300 s.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

DUE_S = "PT20S"


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[RunningStack]:
    stack = RunningStack(tmp_path_factory.mktemp("boards") / "run")
    for urgency in ("critical", "high", "normal", "low"):
        stack.env[f"CITYLINE_DISPATCHER_DUE_{urgency.upper()}"] = DUE_S
    stack.env["CITYLINE_CONSOLE_SUPERVISOR_REFRESH_S"] = "1"
    try:
        stack.up(timeout=600)
        yield stack
    finally:
        if stack.process and stack.process.poll() is None:
            stack.interrupt()


def cli(running: RunningStack, *args: str) -> str:
    """The command line beside the stack; on a loaded machine its start alone can take a minute."""
    done = subprocess.run([*CITYLINE, *args], env=running.client_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture(scope="module")
def console(running: RunningStack) -> str:
    return f"http://127.0.0.1:{running.ports['console']}"


@pytest.fixture(scope="module")
def portal(running: RunningStack) -> httpx.Client:
    """The intake API as a web channel posts to it, for the appeals the boards then show."""
    key = cli(running, "channels", "add", "boards_portal", "--kind", "web").strip().splitlines()[-1]
    with httpx.Client(
        base_url=f"http://127.0.0.1:{running.ports['intake']}", headers={"X-API-Key": key}, timeout=60
    ) as client:
        yield client


def submit(portal: httpx.Client, text: str, phone: str, wait_for: str = "assigned") -> str:
    """An appeal through the intake API; its number once the dispatcher has decided it."""
    created = portal.post("/v1/appeals", json={"text": text, "contact": {"phone": phone}})
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + SLOW_MS / 1000
    while time.monotonic() < deadline:
        view = portal.get(created.json()["status_url"]).json()
        if view["status"] == wait_for:
            return created.json()["appeal_id"]
        time.sleep(0.3)
    raise AssertionError(f"appeal {created.json()['appeal_id']} never became {wait_for}: {view}")


def staff_member(running: RunningStack, browser: Browser, console: str, name: str, *role: str) -> str:
    """A console user of the role who signed in once with the one-time password and set their own."""
    first = one_time_password(cli(running, "users", "add", name, "--role", *role))
    page = browser.new_page(base_url=console, viewport={"width": 1280, "height": 900})
    sign_in(page, name, first)
    page.get_by_label("Поточний пароль").fill(first)
    page.get_by_label("Новий пароль (щонайменше 10 символів)").fill(PASSWORD)
    page.get_by_label("Новий пароль ще раз").fill(PASSWORD)
    page.get_by_role("button", name="Змінити пароль").click()
    expect(page.get_by_role("button", name="Вийти")).to_be_visible()
    page.close()
    return name


@pytest.fixture(scope="module")
def heat_staff(running, browser, console) -> str:
    return staff_member(running, browser, console, "teplo", "department", "--department", "kyivteploenergo")


def until(page: Page, shown, timeout_s: float = SLOW_MS / 1000) -> None:
    """Reload the page until `shown()` holds: what it waits for is computed on the server, not pushed."""
    deadline = time.monotonic() + timeout_s
    while not shown():
        assert time.monotonic() < deadline, f"not shown on {page.url} within {timeout_s} s"
        time.sleep(1)
        page.reload()


def sms_with(outbox: Path, *parts: str, timeout_s: float = SLOW_MS / 1000) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in sorted((outbox / "sms").glob("*.json")):
            message = path.read_text(encoding="utf-8")
            if all(part in message for part in parts):
                return json.loads(message)
        time.sleep(0.5)
    raise AssertionError(f"no SMS with {parts} in {outbox / 'sms'}")


def test_a_department_resolves_an_appeal_and_the_resident_gets_the_sms(
    page: Page, running: RunningStack, portal: httpx.Client, heat_staff: str
) -> None:
    appeal_id = submit(portal, "Третій день немає гарячої води в квартирі, Оболонь", "+380671110001")
    sign_in(page, heat_staff, PASSWORD)
    page.get_by_role("link", name="Дошка виконавця").click()
    tasks = page.get_by_role("region", name=re.compile("Відкриті завдання"))
    row = tasks.get_by_role("row").filter(has=page.get_by_role("link", name=appeal_id))
    until(page, lambda: "прострочено" in (row.inner_text() if row.count() else ""))  # due in seconds here
    shoot(page, "department-board")

    page.get_by_role("region", name=re.compile("Відкриті завдання")).get_by_role("link", name=appeal_id).click()
    page.get_by_role("button", name="Виконано").click()
    expect(page.get_by_label("Коментар (заявник прочитає його у повідомленні)")).to_have_accessible_description(
        re.compile("Напишіть коментар для заявника")
    )
    comment = "Гарячу воду подано, перевірте, будь ласка"
    page.get_by_label("Коментар (заявник прочитає його у повідомленні)").fill(comment)
    shoot(page, "department-appeal")
    page.get_by_role("button", name="Виконано").click()
    expect(page.get_by_role("status")).to_contain_text(f"Звернення {appeal_id}: звіт «виконано» надіслано")

    sms = sms_with(running.run_dir / "outbox", appeal_id, comment)
    assert "+380671110001" in json.dumps(sms)


def test_a_department_user_cannot_open_another_departments_appeal(
    page: Page, portal: httpx.Client, heat_staff: str
) -> None:
    gas = submit(portal, "Сильно пахне газом на сходовій клітці", "+380671110002")
    sign_in(page, heat_staff, PASSWORD)
    answer = page.goto(f"/department/appeals/{gas}")
    assert answer is not None and answer.status == 403
    expect(page.get_by_text(f"appeal {gas} belongs to another department")).to_be_visible()
    refused = page.request.post(f"/department/appeals/{gas}/resolve", form={"comment": "не наше"})
    assert refused.status == 403  # no CSRF token either: nothing is reported


def test_a_supervisor_sees_an_overdue_appeal_on_the_board(
    page: Page, running: RunningStack, browser: Browser, console: str, portal: httpx.Client
) -> None:
    late = submit(portal, "Яма на дорозі біля зупинки, вже два колеса пробили", "+380671110003")
    supervisor = staff_member(running, browser, console, "kerivnyk", "supervisor")
    sign_in(page, supervisor, PASSWORD)
    page.get_by_role("link", name="Дошка керівника").click()
    overdue = page.get_by_role("region", name=re.compile("Прострочені звернення"))
    # Due in seconds, then the board's next computation.
    until(page, lambda: overdue.get_by_role("link", name=late).count() > 0)
    expect(overdue.get_by_role("link", name=late)).to_be_visible()
    departments = page.get_by_role("table", name="Відкриті та прострочені за виконавцями")
    expect(departments).to_contain_text("Київавтодор")
    shoot(page, "supervisor-board")
    with page.expect_download() as download:
        page.get_by_role("link", name="Завантажити CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert f"overdue,{late}," in exported and exported.startswith("section,code,name,measure,value")


def test_an_operator_triages_by_keyboard(
    page: Page, running: RunningStack, browser: Browser, console: str, portal: httpx.Client
) -> None:
    first = submit(portal, "asdf qwerty zxcv", "+380671110004", wait_for="triage")
    second = submit(portal, "qwerty zxcv asdf 12345", "+380671110005", wait_for="triage")
    operator = staff_member(running, browser, console, "sortuvalnyk", "operator")
    sign_in(page, operator, PASSWORD)
    page.get_by_role("link", name="Сортування").click()
    rows = page.get_by_role("listitem")
    first_row, second_row = rows.filter(has_text=first), rows.filter(has_text=second)
    expect(first_row).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    expect(second_row).to_have_attribute("aria-current", "true")
    page.keyboard.press("k")
    expect(first_row).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    shoot(page, "triage")
    page.keyboard.press("c")
    category = page.get_by_label(f"Категорія звернення {second}")
    expect(category).to_be_focused()
    # Arrow keys move through the choice as a person does; the gas category is this many options down.
    codes = category.locator("option").evaluate_all("options => options.map(option => option.value)")
    for _ in range(codes.index("gas")):
        page.keyboard.press("ArrowDown")
    expect(category).to_have_value("gas")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(f"Рішення щодо звернення {second} передано диспетчеру.")
    expect(page.get_by_role("listitem").filter(has_text=second)).to_have_count(0, timeout=SLOW_MS)
    page.goto(f"/appeals/{second}")
    expect(page.get_by_role("definition").filter(has_text="ПрАТ «Київгаз»")).to_be_visible(timeout=SLOW_MS)
    expect(page.get_by_role("region", name="Історія")).to_contain_text(operator)
