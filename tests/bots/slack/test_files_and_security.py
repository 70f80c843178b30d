"""Files read into the context (text, images for vision models, limits told to the user), and request signatures."""

from __future__ import annotations

import json
import time

import pytest

from db.models import ProcessedEvent
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import ALICE, CHANNEL, said
from tests.fixtures.fake_slack import BOT_USER
from tests.fixtures.slack_wire import envelope
from tests.helpers import count, settle

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def share(run: Running, text: str, files: list[dict]) -> str:
    event = said(run, f"<@{BOT_USER}> {text}", subtype="file_share", files=files)
    assert run.http.event(event).status_code == 200
    return event["ts"]


def test_text_files_are_read_into_the_question(slack: Running, simulator) -> None:
    notes = slack.fake.add_file("notes.txt", b"The launch code is 1234.", "text/plain", "text")
    ts = share(slack, "what is the code?", [notes])
    slack.fake.answer(CHANNEL, ts)
    assert simulator.requests[-1].body["messages"][-1]["content"] == (
        "what is the code?\n\n[file notes.txt]\nThe launch code is 1234."
    )
    settle(slack.stack)


def test_files_that_cannot_be_read_are_named_in_the_answer(slack: Running, simulator) -> None:
    big = slack.fake.add_file("big.log", b"x" * 10, "text/plain", "text")
    big["size"] = 2_000_000
    pdf = slack.fake.add_file("report.pdf", b"%PDF-1.7", "application/pdf", "pdf")
    archive = slack.fake.add_file("backup.zip", b"PK\x03\x04", "application/zip", "zip")
    ts = share(slack, "read these", [big, pdf, archive])
    answer = slack.fake.answer(CHANNEL, ts)
    assert answer.markdown.startswith(
        "_I did not read big.log: it is 2.0 MB, and I read files up to 1.0 MB._\n\n"
        "_I could not read report.pdf: it looks damaged or is not really a PDF file._\n\n"
        "_I can't read backup.zip (zip): I read PDF, Word, PowerPoint and Excel files, text files and images._\n\n"
        "You said: read these"
    )
    assert simulator.requests[-1].body["messages"][-1]["content"] == "read these"
    settle(slack.stack)


@pytest.mark.parametrize("vision", ["*", ""])
def test_images_go_to_vision_models_only(slack: Running, simulator, monkeypatch, vision: str) -> None:
    monkeypatch.setattr(slack.stack.settings, "vision_models", vision)
    image = slack.fake.add_file("dot.png", PNG, "image/png", "png")
    ts = share(slack, "what is this?", [image])
    slack.fake.answer(CHANNEL, ts)
    content = simulator.requests[-1].body["messages"][-1]["content"]
    if vision:
        assert content[0] == {"type": "text", "text": "what is this?"}
        assert content[1]["type"] == "image_url"
        assert content[1]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    else:
        # No model sees images: the image is never downloaded, and the person is told.
        assert content == "what is this?"
        assert slack.fake.answer(CHANNEL, ts).markdown.startswith("_I can't look at images here")
        assert slack.fake.downloads == []
    settle(slack.stack)


def test_a_bad_signature_is_refused_with_401(slack: Running) -> None:
    ts = slack.fake.say(CHANNEL, ALICE, f"<@{BOT_USER}> hi")
    event = {"type": "app_mention", "user": ALICE, "text": f"<@{BOT_USER}> hi", "ts": ts, "channel": CHANNEL}
    forged = slack.http.event(event, signature="v0=" + "0" * 64)
    assert forged.status_code == 401
    stale = slack.http.send(json.dumps(envelope(event)), "application/json", timestamp=int(time.time()) - 6 * 60)
    assert stale.status_code == 401  # correctly signed, but too old: a replay
    command = slack.http.send("command=%2Fllmos&text=help", "application/x-www-form-urlencoded", signature="v0=bad")
    assert command.status_code == 401
    assert count(slack.stack, ProcessedEvent) == 0
    assert [c.method for c in slack.fake.calls] == ["auth.test"]  # only the token check at start
