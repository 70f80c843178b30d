"""The dashboard and the web chat in headless Chromium (Debian's chromium and chromium-driver).

Screenshots go to $LLMOS_SCREENSHOTS when set (to look at them), else to the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from bots.admin import board
from db.models import Feedback
from tests.bots.admin.conftest import Admin, signed_post, wait_job
from tests.helpers import chat, messages

# One backend is enough here (the HTTP API is tested on both): the realistic one, with the Redis reply bus.
pytestmark = pytest.mark.parametrize("backend", ["postgresql+redis"], indirect=True)

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing: apt-get install -y chromium chromium-driver")
        pytest.skip("headless Chromium not installed (apt-get install -y chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="llmos-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1360,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    """An element's text, read again if the page's self-refresh replaced the element meanwhile."""
    wait = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))
    return str(wait.until(lambda d: d.find_element(By.ID, element_id).text))


def screenshot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("LLMOS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert driver.save_screenshot(str(path))
    return path


def traffic(admin: Admin, simulator) -> None:
    """Something to look at: questions on two classes, a failure, and a webhook job."""
    simulator.config.ttft = 0.05
    for i in range(4):
        chat(admin.stack, f"question {i}", user=f"user{i % 2}")
    chat(admin.stack, "/summarize 2")
    # Overloaded, not unreachable: an unreachable engine's events are answered once it is back, and
    # would then no longer be failures by the time the dashboard is read.
    simulator.config.mode = "rate_limited"
    chat(admin.stack, "this one fails")
    simulator.config.mode = "ok"
    tenant_id = admin.tenant("admin", "acme", "Acme")
    hook_id, secret = admin.hook(tenant_id)
    job = {
        "id": "nightly",
        "skill": "ask",
        "input": "hi",
        "destination": {"type": "callback", "url": "http://127.0.0.1:9/"},
    }
    assert signed_post(admin, hook_id, secret, job).status_code == 202
    wait_job(admin, tenant_id, "nightly", until={"completed"})


def test_the_dashboard_signs_in_shows_the_figures_and_refreshes(
    admin: Admin, simulator, browser, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(board, "REFRESH_SECONDS", 1)
    traffic(admin, simulator)
    browser.get(f"{admin.url}/dashboard")
    assert "/login" in browser.current_url
    browser.find_element(By.ID, "key").send_keys(admin.global_key + Keys.ENTER)
    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: d.current_url.endswith("/dashboard"))
    engine = text_of(browser, "engine")
    assert "answering" in engine and "sim-model" in engine
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 4
    # The latency chart drew lines, the throughput chart bars.
    assert browser.find_elements(By.CSS_SELECTOR, "#panel svg polyline, #panel svg circle")
    assert browser.find_elements(By.CSS_SELECTOR, "#panel svg rect title")
    queues = text_of(browser, "queues")
    assert "interactive" in queues and "batch" in queues
    usage = text_of(browser, "usage")
    assert "Acme" in usage and "this machine" in usage
    assert "(429)" in text_of(browser, "failures")
    latency = text_of(browser, "latency")
    assert "commands" in latency

    before = text_of(browser, "throughput")
    chat(admin.stack, "one more, while the page is open")
    wait.until(lambda d: d.find_element(By.ID, "throughput").text != before)
    assert int(browser.find_element(By.ID, "panel").get_attribute("data-refreshes") or 0) >= 1
    browser.set_window_size(1360, 1500)  # the whole page, down to the failures
    path = screenshot(browser, tmp_path, "dashboard.png")
    assert path.stat().st_size > 20_000


def test_the_web_chat_streams_an_answer_and_keeps_the_conversation(admin: Admin, simulator, browser, tmp_path) -> None:
    answer = "Paris is the capital of France, and it sits on the Seine river in the north of the country."
    simulator.config.answer = lambda msgs: answer
    simulator.config.inter_token = 0.08
    browser.get(f"{admin.url}/")
    assert browser.current_url.endswith("/chat")
    assert "Ask LLMOS anything" in text_of(browser, "empty")
    box = browser.find_element(By.ID, "text")
    box.send_keys("What is the capital of France?" + Keys.ENTER)

    partial: set[str] = set()
    deadline = time.monotonic() + 20
    reply = ""
    while time.monotonic() < deadline:
        bubbles = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")
        if bubbles:
            reply = bubbles[-1].text
            if "streaming" in (bubbles[-1].get_attribute("class") or ""):
                if reply:
                    partial.add(reply)
            elif reply == answer:
                break
        time.sleep(0.03)
    assert reply == answer
    # The answer grew in front of the reader before it was complete.
    assert any(0 < len(p) < len(answer) for p in partial), partial
    assert [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".msg.user")] == ["What is the capital of France?"]
    stored = [(m.role, m.content) for m in messages(admin.stack)]
    assert stored == [("user", "What is the capital of France?"), ("assistant", answer)]

    simulator.config.inter_token = 0.0
    browser.find_element(By.ID, "text").send_keys("/help" + Keys.ENTER)
    WebDriverWait(browser, 15).until(
        lambda d: "/summarize" in d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text
    )
    # The same thread after a reload: the conversation comes back from the store.
    browser.refresh()
    WebDriverWait(browser, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg")) == 4)
    simulator.config.answer = lambda msgs: f"You asked {len(msgs)} things so far."
    browser.find_element(By.ID, "text").send_keys("And its population?" + Keys.ENTER)
    WebDriverWait(browser, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text.startswith("You asked")
    )
    # The follow-up carried the earlier turns (system, two turns, the new question).
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user", "assistant", "user"]
    path = screenshot(browser, tmp_path, "webchat.png")
    assert path.stat().st_size > 10_000


def test_the_web_chat_stops_an_answer_and_shows_it_stopped(admin: Admin, simulator, browser, tmp_path) -> None:
    simulator.config.answer = lambda msgs: " ".join(f"word{i}" for i in range(400))
    simulator.config.inter_token = 0.03
    browser.get(f"{admin.url}/chat")
    browser.find_element(By.ID, "text").send_keys("Count for me." + Keys.ENTER)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_element(By.ID, "stop").is_displayed())
    assert not browser.find_element(By.ID, "send").is_displayed()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text.startswith("word0 word1"))
    browser.find_element(By.ID, "stop").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.stopped"))
    bubble = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]
    assert bubble.text.startswith("word0 ") and "word399" not in bubble.text and "_(Stopped.)_" not in bubble.text
    assert browser.find_element(By.ID, "send").is_displayed() and not browser.find_element(By.ID, "stop").is_displayed()
    assert messages(admin.stack, "assistant")[0].stopped
    screenshot(browser, tmp_path, "webchat-stopped.png")
    # After a reload the stored answer is shown as stopped too.
    browser.refresh()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.stopped"))


INJECTED = (
    "Here is **bold** and `code`.\n\n"
    '<script>document.title = "pwned"</script><img src=x onerror="document.title = \'pwned\'">\n\n'
    "```python\nprint('hello')\n```"
)


def test_the_web_chat_renders_markdown_safely_and_takes_feedback(admin: Admin, simulator, browser, tmp_path) -> None:
    simulator.config.answer = lambda msgs: INJECTED
    browser.get(f"{admin.url}/chat")
    browser.find_element(By.ID, "text").send_keys("Show me some Markdown." + Keys.ENTER)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".rate button[data-rating]"))
    bubble = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]
    assert bubble.find_element(By.TAG_NAME, "strong").text == "bold" and "**" not in bubble.text
    assert bubble.find_element(By.CSS_SELECTOR, "pre code").text == "print('hello')"
    assert bubble.find_element(By.CSS_SELECTOR, "pre button.copy").text == "Copy"
    # The model's <script> and <img onerror> are shown as text and never ran.
    assert '<script>document.title = "pwned"</script>' in bubble.text and "onerror=" in bubble.text
    time.sleep(0.3)
    assert browser.title != "pwned"
    assert not bubble.find_elements(By.TAG_NAME, "script") and not bubble.find_elements(By.TAG_NAME, "img")
    screenshot(browser, tmp_path, "webchat-markdown-desktop.png")

    browser.find_element(By.CSS_SELECTOR, ".rate button[data-rating=down]").click()
    wait.until(lambda d: "Thanks" in d.find_element(By.CSS_SELECTOR, ".rate .muted").text)
    comment = browser.find_element(By.CSS_SELECTOR, ".rate input[type=text]")
    comment.send_keys("Too much code." + Keys.ENTER)
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".rate form"))
    with admin.stack.sessions() as session:
        (row,) = session.scalars(select(Feedback)).all()
    assert (row.rating, row.comment) == (-1, "Too much code.")

    browser.set_window_size(390, 844)  # a phone
    browser.refresh()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant strong"))
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(browser, tmp_path, "webchat-markdown-phone.png")


def test_a_second_conversation_keeps_the_first(admin: Admin, simulator, browser, tmp_path) -> None:
    simulator.config.answer = lambda msgs: f"Answer to: {msgs[-1]['content']}"
    browser.get(f"{admin.url}/chat")
    wait = WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,))

    def ask(line: str) -> None:
        browser.find_element(By.ID, "text").send_keys(line + Keys.ENTER)
        wait.until(
            lambda d: (
                d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1:]
                and d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text == f"Answer to: {line}"
            )
        )

    def titles() -> list[str]:
        # Read in one go: the list is redrawn as answers finish.
        script = "return [...document.querySelectorAll('#thread-list .title')].map((b) => b.textContent)"
        return list(browser.execute_script(script))

    ask("About cats")
    wait.until(lambda d: titles() == ["About cats"])
    browser.find_element(By.ID, "new").click()
    wait.until(lambda d: titles()[:1] == ["New conversation"])
    assert not browser.find_elements(By.CSS_SELECTOR, ".msg")
    ask("About dogs")
    wait.until(lambda d: titles() == ["About dogs", "About cats"])
    # Back to the first: its conversation is all there, and the model sees only it.
    browser.find_elements(By.CSS_SELECTOR, "#thread-list .title")[1].click()
    wait.until(lambda d: [m.text for m in d.find_elements(By.CSS_SELECTOR, ".msg.user")] == ["About cats"])
    ask("And their whiskers?")
    assert [m["content"] for m in simulator.requests[-1].body["messages"] if m["role"] == "user"] == [
        "About cats",
        "And their whiskers?",
    ]
    current = browser.find_element(By.CSS_SELECTOR, "#thread-list li.current")
    current.find_element(By.CSS_SELECTOR, ".rename").click()
    prompt = browser.switch_to.alert
    prompt.send_keys("Cats")
    prompt.accept()
    wait.until(lambda d: "Cats" in titles())
    screenshot(browser, tmp_path, "webchat-conversations-desktop.png")
    browser.set_window_size(390, 844)
    browser.refresh()
    wait.until(lambda d: "Cats" in titles())
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, tmp_path, "webchat-conversations-phone.png")
    browser.set_window_size(1360, 1000)
    dogs = next(li for li in browser.find_elements(By.CSS_SELECTOR, "#thread-list li") if "dogs" in li.text)
    dogs.find_element(By.CSS_SELECTOR, ".delete").click()
    browser.switch_to.alert.accept()
    wait.until(lambda d: titles() == ["Cats"])


def test_the_web_chat_regenerates_an_answer_in_its_bubble(admin: Admin, simulator, browser, tmp_path) -> None:
    numbers = iter(range(1, 10))
    simulator.config.answer = lambda msgs: f"Answer {next(numbers)}."
    browser.get(f"{admin.url}/chat")
    browser.find_element(By.ID, "text").send_keys("Name a colour." + Keys.ENTER)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".rate button.regenerate"))
    browser.find_element(By.CSS_SELECTOR, ".rate button.regenerate").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text == "Answer 2.")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".rate button.regenerate"))
    assert [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")] == ["Answer 2."]
    assert len(browser.find_elements(By.CSS_SELECTOR, ".rate")) == 1
    screenshot(browser, tmp_path, "webchat-regenerated.png")
    browser.refresh()  # the store shows the newest answer only
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
    assert [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")] == ["Answer 2."]
    assert [(m.content, m.superseded) for m in messages(admin.stack, "assistant")] == [
        ("Answer 1.", True),
        ("Answer 2.", False),
    ]


def test_the_skill_picker_starts_the_line_with_the_skill(admin: Admin, simulator, browser) -> None:
    browser.get(f"{admin.url}/chat")
    picker = browser.find_element(By.ID, "skill")
    names = [o.get_attribute("value") for o in picker.find_elements(By.TAG_NAME, "option")]
    assert {"summarize", "translate", "draft", "minutes", "quiz"} <= set(names) and "ask" not in names
    text = browser.find_element(By.ID, "text")
    text.send_keys("French good morning")
    Select(picker).select_by_value("translate")
    assert text.get_attribute("value") == "/translate French good morning"
    Select(picker).select_by_value("quiz")  # a second choice replaces the first
    assert text.get_attribute("value") == "/quiz French good morning"
    assert picker.get_attribute("value") == ""
