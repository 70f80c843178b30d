"""Images on a message reach a vision-capable model as image parts, and only such a model."""

from __future__ import annotations

from engine.base import ChatMessage
from engine.openai_compat import wire_message
from workers import prompt
from workers.events import Attachment, Event, Platform
from workers.settings import load_settings
from workers.skills import SKILLS, Kind

PHOTO = Attachment(name="cat.png", mime_type="image/png", size=1000, url="https://cdn.example/cat.png")
NOTES = Attachment(name="notes.txt", mime_type="text/plain", size=5, text="hello")


def _event(*attachments: Attachment) -> Event:
    return Event(
        platform=Platform.DISCORD,
        tenant="g",
        channel="c",
        thread="t",
        user="u",
        message_id="m",
        text="What is this?",
        attachments=attachments,
    )


def _build(event: Event, *, vision: bool) -> list[ChatMessage]:
    return prompt.build(event=event, skill=SKILLS[Kind.ASK], base_system="sys", prefs={}, history=[], vision=vision)


def test_a_vision_model_gets_the_image_urls_with_the_question() -> None:
    last = _build(_event(PHOTO, NOTES), vision=True)[-1]
    assert last.images == ("https://cdn.example/cat.png",)
    assert last.content == "What is this?\n\n[file notes.txt]\nhello"
    assert wire_message(last) == {
        "role": "user",
        "content": [
            {"type": "text", "text": last.content},
            {"type": "image_url", "image_url": {"url": "https://cdn.example/cat.png"}},
        ],
    }


def test_a_text_only_model_is_told_what_it_cannot_see() -> None:
    last = _build(_event(PHOTO), vision=False)[-1]
    assert last.images == ()
    assert last.content.startswith("What is this?\n\n[Attached image(s) cat.png: this model cannot see images")
    assert wire_message(last) == {"role": "user", "content": last.content}


def test_vision_models_are_named_in_the_settings() -> None:
    settings = load_settings(_env_file=None, engine_vision_models="qwen2-vl, llava")
    assert settings.sees_images("llava") and not settings.sees_images("smollm2")
    assert load_settings(_env_file=None, engine_vision_models="*").sees_images("anything")
    assert not load_settings(_env_file=None).sees_images("anything")
