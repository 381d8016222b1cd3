"""The console in a real browser (Debian's Chromium, driven by Playwright) against `cityline up`, as an operator
uses it: elements are found by their role and label. The same tests take the screenshots of docs/console/."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.harness import RunningStack

# Starting the whole stack comes first, in the first test's time: on a busy shared machine it takes minutes.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
PASSWORD = "a-long-operator-password"
# The machine may be shared and slow: the pipeline's answer can take a while, the tests never assert a timing.
SLOW_MS = 90_000
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[RunningStack]:
    stack = RunningStack(tmp_path_factory.mktemp("console") / "run")
    # A busy shared machine may need minutes to start the services; waiting longer asserts nothing about speed.
    stack.env["CITYLINE_STACK_START_TIMEOUT_S"] = "300"
    stack.up(timeout=600)
    try:
        yield stack
    finally:
        if stack.process and stack.process.poll() is None:
            stack.interrupt()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (deploy/ci/debian-packages.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(running: RunningStack) -> str:
    return f"http://127.0.0.1:{running.ports['console']}"


def one_time_password(output: str) -> str:
    return next(line for line in output.splitlines() if re.fullmatch(r"[A-Za-z2-9]{12}", line.strip())).strip()


@pytest.fixture(scope="module")
def operator(running: RunningStack, browser: Browser, console: str) -> str:
    """An operator who signed in once with the one-time password and set their own (screenshot: the password page)."""
    added = running.cli("users", "add", "olena", "--role", "operator")
    first = one_time_password(added.stdout)
    page = browser.new_page(base_url=console, viewport={"width": 1280, "height": 900})
    sign_in(page, "olena", first)
    expect(page.get_by_role("heading", name="Зміна пароля")).to_be_visible()
    shoot(page, "password")
    page.get_by_label("Поточний пароль").fill(first)
    page.get_by_label("Новий пароль (щонайменше 10 символів)").fill(PASSWORD)
    page.get_by_label("Новий пароль ще раз").fill(PASSWORD)
    page.get_by_role("button", name="Змінити пароль").click()
    expect(page.get_by_role("heading", name="Прийом дзвінка")).to_be_visible()
    page.close()
    return "olena"


@pytest.fixture
def page(browser: Browser, console: str) -> Iterator[Page]:
    context = browser.new_context(base_url=console, viewport={"width": 1280, "height": 900}, locale="uk-UA")
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, name: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Ім'я користувача").fill(name)
    page.get_by_label("Пароль", exact=True).fill(password)
    page.get_by_role("button", name="Увійти").click()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_sign_in_is_refused_with_a_wrong_password(page: Page, operator: str) -> None:
    page.goto("/login")
    shoot(page, "login")
    sign_in(page, operator, "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Неправильне ім'я або пароль.")
    expect(page.get_by_role("button", name="Увійти")).to_be_visible()
    page.goto("/desk")
    expect(page).to_have_url(re.compile(r"/login\?next=/desk$"))


def test_a_post_without_its_csrf_token_is_refused(page: Page, operator: str) -> None:
    sign_in(page, operator, PASSWORD)
    expect(page.get_by_role("heading", name="Прийом дзвінка")).to_be_visible()
    # The browser's own cookies (signed in), but no token: nothing is registered.
    answer = page.request.post("/desk", form={"text": "Немає води", "phone": "0671234567"})
    assert answer.status == 403
    assert "security token" in answer.text()


def test_form_errors_sit_beside_their_fields(page: Page, operator: str) -> None:
    sign_in(page, operator, PASSWORD)
    page.get_by_label("Телефон").fill("12")
    page.get_by_label("Ел. пошта").fill("not an address")
    page.get_by_role("button", name="Зареєструвати").click()
    expect(page.get_by_role("alert")).to_have_text("Виправте позначені поля.")
    expect(page.get_by_label("Текст звернення")).to_have_accessible_description(re.compile("Введіть текст звернення"))
    expect(page.get_by_label("Телефон")).to_have_accessible_description(re.compile("Це не номер телефону"))
    expect(page.get_by_label("Ел. пошта")).to_have_accessible_description(re.compile("Це не адреса ел. пошти"))
    # What was typed is still there.
    expect(page.get_by_label("Телефон")).to_have_value("12")
    shoot(page, "desk-errors")


def test_an_operator_registers_a_call_sees_it_assigned_and_finds_it_by_the_callers_phone(
    page: Page, operator: str, running: RunningStack
) -> None:
    sign_in(page, operator, PASSWORD)
    page.get_by_label("Телефон").fill("067 555 12 34")
    page.get_by_label("Ім'я", exact=True).fill("Марія")
    page.get_by_label("Текст звернення").fill("Третій день немає опалення в квартирі, батареї холодні")
    page.get_by_label("Адреса").fill("вул. Хрещатик, 22")
    page.get_by_label("Район").select_option(label="Шевченківський")
    preview = page.get_by_role("region", name="Що вирішить система")
    # The classifier's and the dispatcher's own decision, served to the console over HTTP with the staff token.
    expect(preview).to_contain_text("Опалення", timeout=SLOW_MS)
    expect(preview).to_contain_text("КП «Київтеплоенерго»")
    expect(preview).to_contain_text("Спрацювали правила")
    expect(page.get_by_role("region", name="Заявник і місце")).to_contain_text("Раніше не звертався")
    shoot(page, "desk")

    # What the form sends, to send it once more afterwards as a double click would (hidden fields have no label).
    sent = {name: page.locator(f"#call [name={name}]").input_value() for name in ("csrf_token", "idempotency_key")}
    page.get_by_label("Текст звернення").press("Control+Enter")
    number = page.get_by_role("status").first
    expect(number).to_have_text(re.compile(r"^\d \d{3} \d{3}$"), timeout=SLOW_MS)
    appeal_id = number.inner_text().replace(" ", "")
    again = page.request.post(
        "/desk",
        form={
            **sent,
            "text": "Третій день немає опалення в квартирі, батареї холодні",
            "phone": "067 555 12 34",
            "name": "Марія",
            "address": "вул. Хрещатик, 22",
            "district": "shevchenkivskyi",
            "language": "uk",
            "notify": "default",
            "category": "",
        },
        max_redirects=0,
    )
    assert again.status == 303 and again.headers["location"].endswith(f"/desk/registered/{appeal_id}")
    expect(page.get_by_text("передано виконавцю")).to_be_visible(timeout=SLOW_MS)
    expect(page.get_by_text("КП «Київтеплоенерго»")).to_be_visible()
    shoot(page, "registered")

    # The caller calls again: the number in another usual form finds the appeal.
    page.get_by_role("link", name="Пошук").click()
    page.get_by_role("searchbox", name="Номер, телефон або слова").fill("+380 (67) 555-12-34")
    page.get_by_role("button", name="Шукати").click()
    results = page.get_by_role("region", name="Результати (спершу новіші)")
    expect(results.get_by_role("link", name=appeal_id)).to_be_visible(timeout=SLOW_MS)
    shoot(page, "search")

    results.get_by_role("link", name=appeal_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Звернення №")
    expect(page.get_by_role("region", name="Історія")).to_contain_text("передано виконавцю")
    page.get_by_label("Передзвонили заявнику: що сказали").fill("Пояснили, що бригаду викликано")
    page.get_by_role("button", name="Позначити: передзвонили").click()
    expect(page.get_by_role("status")).to_have_text("Позначено: передзвонили.")
    expect(page.get_by_role("region", name="Історія")).to_contain_text("olena")
    expect(page.get_by_role("region", name="Історія")).to_contain_text("Пояснили, що бригаду викликано")
    shoot(page, "appeal")

    # On the desk, the same caller's number now brings up this open appeal first.
    page.get_by_role("link", name="Прийом дзвінка").click()
    page.get_by_label("Телефон").fill("0675551234")
    caller = page.get_by_role("region", name="Заявник і місце")
    expect(caller.get_by_role("link", name=appeal_id)).to_be_visible()
    # ... and the operator adds this call to it instead of registering a duplicate.
    page.get_by_label("Текст звернення").fill("Досі холодно, дзвонить удруге")
    caller.get_by_role("button", name=f"Додати цей дзвінок до № {appeal_id}").click()
    expect(caller.get_by_role("status")).to_contain_text(f"Дзвінок додано до звернення № {appeal_id}")
    page.goto(f"/appeals/{appeal_id}")
    expect(page.get_by_role("region", name="Історія")).to_contain_text("повторний дзвінок: Досі холодно")
