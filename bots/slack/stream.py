"""The answer in a Slack conversation: streamed where Slack can stream, posted and updated where not.

Streaming uses chat.startStream / appendStream / stopStream with the asking user and team as the
recipient. Where a stream cannot start or breaks (a top-level message, an older workspace, a
method error), the answer is posted once and then edited with chat.update at most once a second.
Either way a long answer continues in further messages, cut at paragraph or line boundaries.

A wait or progress note ("Queued…", "Using search…") is never part of the answer: it is the thread's
status (assistant.threads.setStatus, which Slack shows under the thread and clears when the answer
is done), or, where Slack refuses that (a top-level message, a missing scope), a line at the end of
the edited message that the next update replaces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bots.slack import mrkdwn
from bots.slack.controls import ANSWERING, feedback_blocks, stop_blocks
from bots.slack.ref import ReplyMode, SlackRef
from bots.slack.web import check_auth, error_code

log = logging.getLogger(__name__)

PLACEHOLDER = "_Thinking…_"
# Streaming appends at most this often; the first text goes out at once.
STREAM_INTERVAL = 0.3
# Slack asks apps to edit a message at most about once a second.
UPDATE_INTERVAL = 1.0
# A streamed message takes at most 12,000 characters per call; beyond it the answer moves on.
STREAM_LIMIT = 12_000
# Posted messages stay readable (and clear of msg_too_long) below Slack's 4,000 characters.
MESSAGE_LIMIT = 3_900
# The most text a section block (the answer beside its feedback buttons) holds.
SECTION_LIMIT = 3_000


class _Mode(Enum):
    IDLE = "idle"
    STREAM = "stream"
    UPDATE = "update"


class ThreadSink:
    def __init__(
        self,
        *,
        client: WebClient,
        ref: SlackRef,
        streaming: bool,
        clock: Callable[[], float] = time.monotonic,
        stop_key: str | None = None,
    ) -> None:
        self._client = client
        self._ref = ref
        self._streaming = streaming and ref.mode is ReplyMode.THREAD and ref.thread_ts is not None
        self._clock = clock
        self._mode = _Mode.IDLE
        self._notes = "".join(f"_{note}_\n\n" for note in ref.notes)
        self._answer = ""
        self._last = float("-inf")
        # Streaming: the open message, how much it holds, and what waits for the next append.
        self._ts: str | None = None
        self._held = 0
        self._pending = ""
        # Updating: the messages showing the answer from `_from` on, with what each shows now.
        self._from = 0
        self._posted: list[tuple[str, str]] = []
        self._limit = MESSAGE_LIMIT
        # The note shown now, and whether Slack's thread status carries it (None: not tried yet).
        self._status = ""
        self._thread_status: bool | None = None
        # The controls' message under the answer (for the event `stop_key`): Stop while it streams,
        # then 👍/👎 once it is done.
        self._key = stop_key
        self._stop_key = stop_key
        self._stop_ts: str | None = None

    @property
    def client(self) -> WebClient:
        """The Web API client with this workspace's token (job destinations are checked with it)."""
        return self._client

    # -- the ReplySink interface --------------------------------------------------------------

    def start(self, *, resume_ref: str | None) -> str:
        if resume_ref:
            self._resume(resume_ref)
            return resume_ref
        if self._streaming:
            try:
                self._ts = self._start_stream(self._notes)
                self._held, self._mode = len(self._notes), _Mode.STREAM
                return self._ts
            except SlackApiError as exc:
                check_auth(exc, team=self._ref.team)
                log.info("streaming unavailable in %s (%s); posting and updating instead", self._ref.channel, exc)
        ts = self._post(mrkdwn.to_mrkdwn(self._notes) + PLACEHOLDER)
        self._posted, self._mode, self._last = [(ts, "")], _Mode.UPDATE, self._clock()
        return ts

    def status(self, text: str) -> None:
        """Show a wait or progress note beside the answer, never in it."""
        if self._ref.thread_ts and self._thread_status is not False and self._set_thread_status(text):
            return
        self._status = text
        if self._mode is _Mode.STREAM:
            self._to_update()
        if self._mode is _Mode.UPDATE:
            self._render()

    def append(self, text: str) -> None:
        self._answer += text
        self._status = ""
        if self._mode is _Mode.STREAM:
            self._pending += text
            if self._clock() - self._last >= STREAM_INTERVAL:
                self._flush()
        elif self._mode is _Mode.UPDATE and self._clock() - self._last >= UPDATE_INTERVAL:
            self._render()
        if self._stop_key is not None and self._stop_ts is None and self._mode is not _Mode.IDLE:
            self._show_stop(self._stop_key)

    def finish(self, text: str) -> None:
        self._clear_status()
        self._show_final(text)
        self._hide_stop()

    def _show_final(self, text: str) -> None:
        if self._answer.strip() != text.strip():
            self._replace(text)
        if self._mode is _Mode.STREAM:
            self._flush()
        if self._mode is _Mode.STREAM:
            with self._guard():
                self._stop(blocks=self._feedback())
            return
        self._render(final=True)

    def fail(self, message: str) -> None:
        self._clear_status()
        self._hide_stop()
        warning = f":warning: {message}"
        if self._mode is _Mode.STREAM:
            self._to_update()
        with self._guard():
            if self._posted:
                self._client.chat_update(channel=self._ref.channel, ts=self._posted[0][0], text=warning)
            else:
                self._post(warning)

    # -- the note beside the answer ------------------------------------------------------------

    def _set_thread_status(self, text: str) -> bool:
        try:
            self._client.assistant_threads_setStatus(
                channel_id=self._ref.channel, thread_ts=self._ref.thread_ts or "", status=text
            )
        except SlackApiError as exc:
            check_auth(exc, team=self._ref.team)
            log.info("no thread status in %s (%s); the message shows the note instead", self._ref.channel, exc)
            self._thread_status = False
            return False
        self._thread_status = True
        return True

    def _clear_status(self) -> None:
        self._status = ""
        if self._thread_status:
            self._thread_status = None
            try:
                self._client.assistant_threads_setStatus(
                    channel_id=self._ref.channel, thread_ts=self._ref.thread_ts or "", status=""
                )
            except SlackApiError as exc:  # Slack drops it by itself within two minutes
                log.debug("clearing the thread status in %s failed: %s", self._ref.channel, exc)

    def _show_stop(self, key: str) -> None:
        self._stop_key = None  # one try: an answer goes on without its button
        try:
            response = self._client.chat_postMessage(
                channel=self._ref.channel, thread_ts=self._ref.thread_ts, text=ANSWERING, blocks=stop_blocks(key)
            )
        except SlackApiError as exc:
            check_auth(exc, team=self._ref.team)
            log.info("no Stop button in %s: %s", self._ref.channel, exc)
            return
        self._stop_ts = str(response["ts"])

    def _feedback(self) -> list[dict[str, Any]] | None:
        """Slack's 👍/👎 for the finished answer's last message (an answer of the engine's only)."""
        return feedback_blocks(self._key) if self._key is not None else None

    def _hide_stop(self) -> None:
        if self._stop_ts is None:
            return
        ts, self._stop_ts = self._stop_ts, None
        try:
            self._client.chat_delete(channel=self._ref.channel, ts=ts)
        except SlackApiError as exc:
            log.info("could not remove the Stop button %s in %s: %s", ts, self._ref.channel, exc)

    # -- streaming ----------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A refused token becomes a clear log line and a SlackAuthError; other errors pass."""
        try:
            yield
        except SlackApiError as exc:
            check_auth(exc, team=self._ref.team)
            raise

    def _start_stream(self, text: str) -> str:
        response = self._client.chat_startStream(
            channel=self._ref.channel,
            thread_ts=self._ref.thread_ts or "",
            recipient_team_id=self._ref.user_team or self._ref.team,
            recipient_user_id=self._ref.user,
            markdown_text=text or None,
        )
        return str(response["ts"])

    def _flush(self) -> None:
        self._last = self._clock()
        while self._pending and self._mode is _Mode.STREAM:
            room = STREAM_LIMIT - self._held
            cut = len(self._pending) if len(self._pending) <= room else mrkdwn.cut_point(self._pending, room)
            try:
                if cut:
                    self._append_stream(self._pending[:cut])
                    self._pending = self._pending[cut:]
                if self._pending:
                    self._next_stream()
            except SlackApiError as exc:
                check_auth(exc, team=self._ref.team)
                if error_code(exc) == "msg_too_long" and self._held:
                    self._next_stream()
                    continue
                log.warning("streaming into %s broke (%s); updating the message instead", self._ref.channel, exc)
                self._to_update()

    def _append_stream(self, piece: str) -> None:
        assert self._ts is not None
        self._client.chat_appendStream(channel=self._ref.channel, ts=self._ts, markdown_text=piece)
        self._held += len(piece)

    def _next_stream(self) -> None:
        """The open message is full: close it and carry on in a new one in the same thread."""
        self._stop()
        self._from = len(self._answer) - len(self._pending)
        self._ts, self._held = self._start_stream(""), 0

    def _stop(self, *, quietly: bool = False, blocks: list[dict[str, Any]] | None = None) -> None:
        assert self._ts is not None
        try:
            self._client.chat_stopStream(channel=self._ref.channel, ts=self._ts, blocks=blocks)
        except SlackApiError as exc:
            if not quietly:
                raise
            log.debug("stopping the stream %s failed: %s", self._ts, exc)

    def _to_update(self) -> None:
        """Show the rest by editing: the open stream's message becomes the first one edited."""
        if self._mode is _Mode.STREAM and self._ts is not None:
            self._stop(quietly=True)
            self._posted = [(self._ts, "")]
        self._mode, self._pending, self._last = _Mode.UPDATE, "", float("-inf")

    def _replace(self, text: str) -> None:
        """The final text is not what streamed: a command's answer, a stored one shown again, a placeholder."""
        if self._mode is _Mode.STREAM and not self._answer:
            self._pending = text
        else:
            self._to_update()
            self._from = 0
        self._answer = text

    def _resume(self, ts: str) -> None:
        # The answer a dead worker had started may still be an open stream: end it, then edit it.
        try:
            self._client.chat_stopStream(channel=self._ref.channel, ts=ts)
        except SlackApiError as exc:
            check_auth(exc, team=self._ref.team)
        self._posted, self._mode = [(ts, "")], _Mode.UPDATE

    # -- posting and updating -----------------------------------------------------------------

    def _post(self, text: str) -> str:
        with self._guard():
            response = self._client.chat_postMessage(
                channel=self._ref.channel, thread_ts=self._ref.thread_ts, text=text, unfurl_links=False
            )
        return str(response["ts"])

    def _render(self, *, final: bool = False) -> None:
        """Show the answer so far across the posted messages, posting more if it grew past one."""
        self._last = self._clock()
        body = self._answer[self._from :] if self._from else self._notes + self._answer
        text = mrkdwn.to_mrkdwn(body) + ("" if final else " …")
        if self._status and not final:
            text = (mrkdwn.to_mrkdwn(body) + "\n\n" if body.strip() else "") + f"_{self._status.rstrip('.…')}…_"
        for _ in range(4):
            try:
                with self._guard():
                    self._show(mrkdwn.split(text, self._limit))
                if final:
                    self._attach_feedback()
                return
            except SlackApiError as exc:
                if error_code(exc) != "msg_too_long" or self._limit < 256:
                    raise
                self._limit //= 2
                log.info("Slack found a message too long; splitting at %d characters", self._limit)
        raise RuntimeError("Slack refused every split of the answer as too long")

    def _attach_feedback(self) -> None:
        """The 👍/👎 under the last message of a finished answer shown by editing."""
        blocks = self._feedback()
        ts, piece = self._posted[-1] if self._posted else ("", "")
        if blocks is None or not piece.strip() or len(piece) > SECTION_LIMIT:
            return  # a section block holds 3,000 characters: a longer last part goes without the buttons
        section = {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        try:
            self._client.chat_update(channel=self._ref.channel, ts=ts, text=piece, blocks=[section, *blocks])
        except SlackApiError as exc:
            check_auth(exc, team=self._ref.team)
            log.info("no feedback buttons on %s in %s: %s", ts, self._ref.channel, exc)

    def _show(self, pieces: list[str]) -> None:
        for index, piece in enumerate(pieces):
            if index < len(self._posted):
                ts, shown = self._posted[index]
                if shown != piece:
                    self._client.chat_update(channel=self._ref.channel, ts=ts, text=piece)
                    self._posted[index] = (ts, piece)
            else:
                self._posted.append((self._post(piece), piece))
