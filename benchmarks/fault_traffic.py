"""The people of the fault matrix: Slack mentions and web chat lines, and what each of them saw.

Slack: a message in the fake Slack's history, then its signed `app_mention` to LLMOS's Events API
endpoint. Slack retries an event it got no 200 for; so does this client (at +1 s, +10 s and +60 s,
Slack's own schedule compressed). Web chat: the page's cookie, a POST of the line, then its stream of
server-sent events, followed again when it breaks, as a browser's EventSource does.

Every count comes from what the platforms received: whole answers (the simulator ends each with
END_MARK) and other messages to the person at the fake Slack, `done` and `error` on the web stream.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import httpx

from benchmarks.fault_engine import END_MARK
from tests.fixtures.fake_slack import BOT_USER, TEAM, FakeSlack
from tests.fixtures.slack_wire import SlackHttp

log = logging.getLogger(__name__)

CHANNEL = "C0FAULTS01"
USER = "U0ALICE01"
SLACK_RETRY_DELAYS = (1.0, 10.0, 60.0)


@dataclass
class Sent:
    key: str
    surface: str
    tag: str
    sent_at: float
    ts: str = ""
    acked: bool = False
    # First time the platform showed a whole answer (monotonic).
    answered_at: float | None = None
    # Whole answers the platform shows for this one message (more than one is a duplicate).
    answers: int = 0
    # Other messages to the person: failures, "saved, try again" notices.
    told: list[str] = field(default_factory=list)
    # The sender stopped trying (Slack's retries ran out, the web chat kept refusing the line).
    gave_up: bool = False

    @property
    def outcome(self) -> bool:
        """Answered, or the sender gave up. Being told of a failure is not an outcome: LLMOS may still
        answer (an engine outage's messages are re-sent when it is back)."""
        return self.answered_at is not None or self.gave_up


def slack_key(ts: str) -> str:
    return f"slack:{TEAM}:{CHANNEL}:{ts}"


class SlackPeople:
    """Mentions sent to LLMOS's Slack endpoint, and the answers the fake Slack received."""

    def __init__(self, fake: FakeSlack, endpoint: str) -> None:
        self.fake = fake
        self.http = SlackHttp(endpoint)

    def close(self) -> None:
        self.http.close()

    def message(self, tag: str) -> tuple[str, dict[str, str]]:
        """A mention in the channel's history; its ts and the event Slack sends for it."""
        text = f"<@{BOT_USER}> question {tag}"
        ts = self.fake.say(CHANNEL, USER, text)
        return ts, {"type": "app_mention", "user": USER, "text": text, "ts": ts, "channel": CHANNEL}

    def deliver(self, event: dict[str, str], retry_num: int | None = None) -> bool:
        try:
            response = self.http.event(event, retry_num=retry_num)
            return response.status_code == 200
        except httpx.HTTPError as exc:
            log.info("slack delivery of %s failed: %s", event["ts"], exc)
            return False

    def mention(self, tag: str, *, extra_retries: int = 0) -> Sent:
        ts, event = self.message(tag)
        sent = Sent(key=slack_key(ts), surface="slack", tag=tag, sent_at=time.monotonic(), ts=ts)
        sent.acked = self.deliver(event)
        for number in range(1, extra_retries + 1):
            self.deliver(event, retry_num=number)
        if not sent.acked:
            threading.Thread(target=self.retry, args=(sent, event), daemon=True).start()
        return sent

    def retry(self, sent: Sent, event: dict[str, str]) -> None:
        """Slack's retries of an event that got no 200."""
        started = time.monotonic()
        for number, delay in enumerate(SLACK_RETRY_DELAYS, start=1):
            time.sleep(max(0.0, started + delay - time.monotonic()))
            if self.deliver(event, retry_num=number):
                sent.acked = True
                return
        sent.gave_up = True

    def observe(self, sent: Sent) -> None:
        replies = self.fake.replies(CHANNEL, sent.ts)
        whole = [m for m in replies if END_MARK in (m.markdown or m.text) and not m.streaming]
        sent.answers = len(whole)
        sent.told = [(m.markdown or m.text) for m in replies if m not in whole and not m.streaming]
        if whole and sent.answered_at is None:
            sent.answered_at = time.monotonic()


class WebPeople:
    """One browser on the web chat: lines posted, answers followed on the stream."""

    def __init__(self, base_url: str, *, ack_within: float = 60.0) -> None:
        self.base_url = base_url
        self.ack_within = ack_within
        self.http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=30.0))
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cookie_lock = threading.Lock()

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=35)
        self.http.close()

    def _cookie(self) -> None:
        """The page sets who is chatting; one browser, so one cookie for every line."""
        with self._cookie_lock:
            if not self.http.cookies:
                self.http.get("/chat").raise_for_status()

    def _post(self, tag: str) -> str | bool:
        """The event key once LLMOS took the line; True to try again (it is down), False if refused."""
        try:
            self._cookie()
            response = self.http.post("/chat/messages", json={"text": f"question {tag}", "thread": tag})
            if response.status_code == 202:
                return str(response.json()["key"])
            log.info("web chat answered %s for %s: %s", response.status_code, tag, response.text[:200])
            return response.status_code >= 500
        except httpx.HTTPError as exc:
            log.info("web chat post of %s failed: %s", tag, exc)
            return True

    def ask(self, tag: str) -> Sent:
        """Post the line (again every 2 s while LLMOS refuses it, as a person would), then follow it."""
        sent = Sent(key="", surface="web", tag=tag, sent_at=time.monotonic())
        deadline = sent.sent_at + self.ack_within
        while not self.stop.is_set():
            key = self._post(tag)
            if isinstance(key, str):
                sent.key, sent.acked = key, True
                thread = threading.Thread(target=self._follow, args=(sent,), daemon=True)
                thread.start()
                self._threads.append(thread)
                break
            if not key or time.monotonic() > deadline:
                sent.gave_up = True
                break
            time.sleep(2.0)
        return sent

    def _follow(self, sent: Sent) -> None:
        """The stream until its `done`; after an `error`, the thread's history, as the page shows it
        when reloaded (a stream ends at its first error, so a later answer only shows there)."""
        while not self.stop.is_set() and sent.answered_at is None:
            try:
                if sent.told:
                    self._history(sent)
                else:
                    with self.http.stream("GET", "/chat/stream", params={"key": sent.key}) as response:
                        if response.status_code == 200:
                            self._read(sent, response)
            except httpx.HTTPError as exc:
                log.info("web stream of %s broke: %s", sent.key, exc)
            if sent.answered_at is None:
                self.stop.wait(1.0)

    def _history(self, sent: Sent) -> None:
        response = self.http.get("/chat/history", params={"thread": sent.tag})
        if response.status_code == 200:
            whole = [m for m in response.json() if m.get("role") == "assistant" and END_MARK in m.get("content", "")]
            if whole:
                sent.answers, sent.answered_at = len(whole), time.monotonic()

    @staticmethod
    def _read(sent: Sent, response: httpx.Response) -> None:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "done":
                sent.answers, sent.answered_at = 1, time.monotonic()
                return
            elif line.startswith("data: ") and kind == "error":
                sent.told.append(str(json.loads(line.removeprefix("data: ")).get("text", "")))
                return
