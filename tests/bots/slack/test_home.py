"""The App Home tab and its preferences modal, driven the way Slack drives them."""

from __future__ import annotations

from typing import Any

from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import ADMIN, command, responses
from tests.bots.slack.test_conversations import ALICE, BOB, CHANNEL, mention
from tests.fixtures.fake_slack import TEAM
from tests.helpers import settle


def open_home(run: Running, user: str = ALICE) -> dict[str, Any]:
    before = len(run.fake.calls_to("views.publish"))
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": "home"}
    assert run.http.event(event).status_code == 200
    return run.fake.wait_for(lambda: run.fake.calls_to("views.publish")[before:])[0].args


def home_text(published: dict[str, Any]) -> str:
    return "\n".join(b.get("text", {}).get("text", "") for b in published["view"]["blocks"])


def submit(run: Running, values: dict[str, Any]) -> Any:
    state = {f"pref_{key}": {"value": value} for key, value in values.items()}
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": ALICE, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": "1.2",
        "view": {"id": "V0MODAL", "type": "modal", "callback_id": "llmos_prefs", "state": {"values": state}},
    }
    return run.http.interaction(payload)


def test_home_shows_preferences_and_the_modal_changes_them(slack: Running, simulator) -> None:
    published = open_home(slack)
    assert published["user_id"] == ALICE
    assert "*length*: _default_" in home_text(published)
    assert "Workspace admin" not in home_text(published)

    click = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": ALICE, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": "12.34",
        "container": {"type": "view", "view_id": "V0HOME"},
        "actions": [{"action_id": "llmos_edit_prefs", "block_id": "b", "type": "button", "action_ts": "1"}],
    }
    assert slack.http.interaction(click).status_code == 200
    modal = slack.fake.wait_for(lambda: slack.fake.calls_to("views.open"))[0].args
    assert modal["trigger_id"] == "12.34" and modal["view"]["callback_id"] == "llmos_prefs"

    response = submit(
        slack,
        {
            "persona": {"type": "plain_text_input", "value": "a patient maths teacher"},
            "language": {"type": "plain_text_input", "value": "Spanish"},
            "length": {"type": "static_select", "selected_option": {"value": "short"}},
            "model": {"type": "plain_text_input", "value": None},
        },
    )
    assert response.status_code == 200 and response.text == ""
    republished = slack.fake.wait_for(lambda: slack.fake.calls_to("views.publish")[1:])[0].args
    assert "*language*: Spanish" in home_text(republished) and "*length*: short" in home_text(republished)

    ts = mention(slack, "What is 2+2?")["ts"]
    slack.fake.answer(CHANNEL, ts)
    system = simulator.requests[-1].body["messages"][0]["content"]
    assert "Act as a patient maths teacher." in system and "Always answer in Spanish." in system
    settle(slack.stack)


def test_the_modal_refuses_bad_values_next_to_their_field(slack: Running) -> None:
    response = submit(
        slack,
        {
            "persona": {"type": "plain_text_input", "value": "x" * 600},
            "length": {"type": "static_select", "selected_option": {"value": "default"}},
            "model": {"type": "plain_text_input", "value": "no-such-model"},
        },
    )
    assert response.json() == {
        "response_action": "errors",
        "errors": {
            "pref_persona": "Keep it under 500 characters.",
            "pref_model": "This engine serves: sim-model.",
        },
    }
    assert slack.fake.calls_to("views.publish") == []


def test_admins_see_the_workspace_rules_on_their_home(slack: Running) -> None:
    published = open_home(slack, ADMIN)
    assert "Workspace admin" in home_text(published) and "No access rules" in home_text(published)


def test_saving_the_modal_keeps_a_preference_it_does_not_show(slack: Running, simulator) -> None:
    responses(slack, command(slack, "prefs set reasoning show"), 2)
    settle(slack.stack)
    response = submit(slack, {"language": {"type": "plain_text_input", "value": "Spanish"}})
    assert response.status_code == 200
    slack.fake.wait_for(lambda: slack.fake.calls_to("views.publish"))
    shown = responses(slack, command(slack, "prefs"), 2)[1]["text"]
    assert "• reasoning: show (yours)" in shown and "• language: Spanish (yours)" in shown
    settle(slack.stack)


def test_the_home_tab_and_admin_rules_list_the_rules_in_the_same_words(slack: Running) -> None:
    responses(slack, command(slack, f"admin block <@{BOB}|bob>", user=ADMIN))
    listed = responses(slack, command(slack, "admin rules", user=ADMIN))[0]["text"]
    assert listed in home_text(open_home(slack, ADMIN))
