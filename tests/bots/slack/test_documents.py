"""Documents in Slack: real PDF, Word, PowerPoint and Excel files shared with a question or learned by a channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.bots.slack.conftest import Running, serving
from tests.bots.slack.test_conversations import CHANNEL
from tests.bots.slack.test_files_and_security import share
from tests.fixtures import documents
from tests.fixtures.fake_slack import FakeSlack
from tests.helpers import settle
from workers.documents.convert import DOCX, PDF, PPTX, XLSX
from workers.stack import Stack


def office_files(run: Running) -> list[dict[str, Any]]:
    return [
        run.fake.add_file(
            "plan.pdf", documents.pdf(["The launch is on 12 March.", "Budget: 40,000 euros."]), PDF, "pdf"
        ),
        run.fake.add_file(
            "minutes.docx", documents.docx(["The board chose Lisbon."], [["owner", "Ana"]]), DOCX, "docx"
        ),
        run.fake.add_file("deck.pptx", documents.pptx([("Goals", "Reach 500 schools")]), PPTX, "pptx"),
        run.fake.add_file("prices.xlsx", documents.xlsx({"Prices": [["item", "price"], ["tea", 3]]}), XLSX, "xlsx"),
    ]


def test_office_files_and_pdfs_are_read_into_the_question(slack: Running, simulator) -> None:
    ts = share(slack, "what do these say?", office_files(slack))
    slack.fake.answer(CHANNEL, ts)
    content = simulator.requests[-1].body["messages"][-1]["content"]
    assert content.startswith("what do these say?\n\n[file plan.pdf]\n[page 1]\nThe launch is on 12 March.")
    assert "[page 2]\nBudget: 40,000 euros." in content
    assert "[file minutes.docx]\nThe board chose Lisbon.\nowner | Ana" in content
    assert "[file deck.pptx]\n[slide 1]\nGoals\nReach 500 schools" in content
    assert "[file prices.xlsx]\n[sheet Prices]\nitem | price\ntea | 3" in content
    settle(slack.stack)


@pytest.fixture
def one_page_slack(clean_stack: Stack, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """Slack on a deployment that reads one page of each document (DOCUMENT_MAX_PAGES=1)."""
    monkeypatch.setattr(clean_stack.settings, "document_max_pages", 1)
    with serving(clean_stack, fake) as running:
        yield running


def test_document_limits_are_told_to_the_person(one_page_slack: Running, simulator) -> None:
    ts = share(one_page_slack, "summarize", office_files(one_page_slack)[:1])
    answer = one_page_slack.fake.answer(CHANNEL, ts)
    assert answer.markdown.startswith("_I read the first 1 of the 2 pages of plan.pdf._")
    assert "Budget" not in simulator.requests[-1].body["messages"][-1]["content"]
    settle(one_page_slack.stack)


def test_a_channel_learns_documents_and_answers_from_them_with_sources(slack: Running, simulator) -> None:
    handbook = documents.docx(
        ["Travel policy. Train tickets are refunded within 30 days of the trip.", "The office opens at 8:30."]
    )
    ts = share(slack, "/learn", [slack.fake.add_file("handbook.docx", handbook, DOCX, "docx")])
    learned = slack.fake.answer(CHANNEL, ts)
    assert "Added to this channel's knowledge:\n• handbook.docx: 1 passage(s)" in (learned.markdown or learned.text)
    settle(slack.stack)

    simulator.config.answer = lambda _messages: "Within 30 days [1]."
    ts = share(slack, "When are train tickets refunded?", [])
    answer = slack.fake.answer(CHANNEL, ts)
    asked = simulator.requests[-1].body["messages"][-1]["content"]
    assert asked.startswith("Passages from this channel's documents.")
    assert "[1] (handbook.docx)\nTravel policy. Train tickets are refunded within 30 days" in asked
    assert asked.endswith("Question: When are train tickets refunded?")
    assert (answer.markdown or answer.text).endswith("Within 30 days [1].\n\nSources: [1] handbook.docx")
    settle(slack.stack)
