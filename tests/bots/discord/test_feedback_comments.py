"""A comment on a rating through the fake Discord: the thanks for 👍/👎 offers "Add a comment", whose
form (a MODAL response) comes back as MODAL_SUBMIT and joins the rating, over the gateway and over HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.discord.comments import COMMENT_ID
from bots.discord.surface import DiscordSurface
from bots.discord.targets import FEEDBACK_ID
from db.models import Feedback, Notice
from tests.bots.discord.helpers import eventually, replies, wait_done
from tests.bots.discord.test_controls import said_to
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Interaction
from workers.stack import Stack


def answered(fake: FakeDiscord, stack: Stack, simulator) -> dict[str, Any]:
    simulator.config.answer = lambda msgs: "Paris."
    asked = fake.post(fake.world.random, "capital of France?", mention=True)
    wait_done(stack, asked["id"], timeout=30)
    (answer,) = replies(fake, asked)
    return answer


def rating(answer: dict[str, Any], which: str) -> str:
    ids = [item["custom_id"] for row in answer["components"] for item in row["components"]]
    return next(i for i in ids if i.startswith(f"{FEEDBACK_ID}{which}:"))


def comment_button(fake: FakeDiscord, pressed: Interaction) -> tuple[dict[str, Any], str]:
    """The thanks a rating got, and its "Add a comment" button."""
    assert said_to(fake, pressed) == "Thanks for the feedback."
    thanks = dict(fake.run(lambda: fake.world.messages[pressed.original or 0]))
    (button,) = [item for row in thanks["components"] for item in row["components"]]
    assert button["label"] == "Add a comment" and button["custom_id"].startswith(COMMENT_ID)
    return thanks, str(button["custom_id"])


def test_a_comment_after_a_rating_joins_it_through_a_form(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    answer = answered(fake, clean_stack, simulator)
    down = fake.press(answer, rating(answer, "down"), user="bob")
    thanks, custom_id = comment_button(fake, down)
    assert down.ephemeral
    # Bob changes his mind, then comments from the first thanks: the rating he gave last stays.
    said_to(fake, fake.press(answer, rating(answer, "up"), user="bob"))
    opened = fake.press(thanks, custom_id, user="bob")
    form = eventually(lambda: opened.modal, what="the comment form")
    assert opened.response_type == 9 and opened.original is None  # a form, not a message
    assert len(form["title"]) <= 45 and form["custom_id"].endswith(custom_id.removeprefix(COMMENT_ID))
    sent = fake.fill_in(opened, {"comment": "Short and right."}, user="bob")
    assert said_to(fake, sent) == "Thanks, your comment is kept with your rating." and sent.ephemeral
    with clean_stack.sessions() as session:
        (row,) = session.scalars(select(Feedback)).all()
        notes = session.scalars(select(Notice).where(Notice.kind == "feedback.received").order_by(Notice.id)).all()
    assert (row.rating, row.comment) == (1, "Short and right.")
    assert notes[-1].data["comment"] == "Short and right." and notes[-1].data["rating"] == "up"


def test_the_comment_form_works_over_the_http_endpoint(
    endpoint_bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    assert endpoint_bot.bot is not None and endpoint_bot.bot.endpoint is not None
    url = str(endpoint_bot.bot.endpoint.url)
    answer = answered(fake, clean_stack, simulator)
    press = fake.interaction({}, channel=int(answer["channel_id"]), user="alice")
    press.update(type=3, data={"custom_id": rating(answer, "down"), "component_type": 2}, message=answer)
    status, thanks = fake.deliver(url, press)
    assert status == 200 and thanks["type"] == 4 and thanks["data"]["content"] == "Thanks for the feedback."
    (button,) = [item for row in thanks["data"]["components"] for item in row["components"]]
    opening = fake.interaction({}, channel=int(answer["channel_id"]), user="alice")
    opening.update(type=3, data={"custom_id": button["custom_id"], "component_type": 2}, message=answer)
    status, form = fake.deliver(url, opening)
    assert status == 200 and form["type"] == 9 and form["data"]["components"]
    opened = fake.run(lambda: fake.world.interactions[int(opening["id"])])
    filled = fake.fill_in(opened, {"comment": "Too short."}, user="alice")
    assert said_to(fake, filled) == "Thanks, your comment is kept with your rating."
    with clean_stack.sessions() as session:
        (row,) = session.scalars(select(Feedback)).all()
    assert (row.rating, row.comment) == (-1, "Too short.")
