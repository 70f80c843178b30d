"""Documents on Discord: real PDF, Word, PowerPoint and Excel attachments read into a question or learned."""

from __future__ import annotations

from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import answer_text, wait_done
from tests.fixtures import documents
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Interaction
from workers.documents.convert import DOCX, PDF, PPTX, XLSX


def original(fake: FakeDiscord, found: Interaction) -> str:
    """The text of a slash command's answer (its original response)."""
    assert found.original is not None
    return str(fake.run(lambda: dict(fake.world.messages[found.original]))["content"])


def test_office_attachments_are_read_into_the_question(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
) -> None:
    files = [
        ("plan.pdf", documents.pdf(["The launch is on 12 March."]), PDF),
        ("minutes.docx", documents.docx(["The board chose Lisbon."]), DOCX),
        ("deck.pptx", documents.pptx([("Goals", "Reach 500 schools")]), PPTX),
        ("prices.xlsx", documents.xlsx({"Prices": [["tea", 3]]}), XLSX),
        ("broken.pdf", b"%PDF-1.7 not really", PDF),
    ]
    asked = fake_discord.post(fake_discord.world.general, "what do these say?", mention=True, files=files)
    wait_done(clean_stack, asked["id"])
    content = simulator.requests[-1].body["messages"][-1]["content"]
    assert content.startswith("what do these say?\n\n[file plan.pdf]\n[page 1]\nThe launch is on 12 March.")
    assert "[file minutes.docx]\nThe board chose Lisbon." in content
    assert "[file deck.pptx]\n[slide 1]\nGoals\nReach 500 schools" in content
    assert "[file prices.xlsx]\n[sheet Prices]\ntea | 3" in content
    assert "broken.pdf" not in content
    assert "-# I could not read broken.pdf: it looks damaged or is not really a PDF file." in answer_text(
        fake_discord, asked
    )


def test_learn_then_answer_with_sources_and_forget(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
) -> None:
    general = fake_discord.world.general
    prices = documents.xlsx({"Prices": [["item", "price"], ["green tea", "3 euros"], ["coffee", "2 euros"]]})
    learned = fake_discord.post(general, "/learn", mention=True, files=[("prices.xlsx", prices, XLSX)])
    wait_done(clean_stack, learned["id"])
    assert "Added to this channel's knowledge:\n• prices.xlsx: 1 passage(s)" in answer_text(fake_discord, learned)

    listed = fake_discord.post(general, "/knowledge", mention=True)
    wait_done(clean_stack, listed["id"])
    assert "• prices.xlsx (" in answer_text(fake_discord, listed)
    # The same list through the native slash command.
    slashed = fake_discord.command(slash("knowledge"), channel=general)
    wait_done(clean_stack, slashed.id)
    assert "• prices.xlsx (" in original(fake_discord, slashed)

    simulator.config.answer = lambda _messages: "Green tea costs 3 euros [1]."
    asked = fake_discord.post(general, "How much is green tea?", mention=True)
    wait_done(clean_stack, asked["id"])
    assert "[1] (prices.xlsx)" in simulator.requests[-1].body["messages"][-1]["content"]
    assert "Green tea costs 3 euros [1].\n\nSources: [1] prices.xlsx" in answer_text(fake_discord, asked)

    forgot = fake_discord.command(slash("knowledge", forget="prices.xlsx"), channel=general)
    wait_done(clean_stack, forgot.id)
    assert "no longer part of this channel's knowledge" in original(fake_discord, forgot)
    again = fake_discord.post(general, "/knowledge forget prices.xlsx", mention=True)
    wait_done(clean_stack, again["id"])
    assert "This channel has no document called 'prices.xlsx'" in answer_text(fake_discord, again)
    asked = fake_discord.post(general, "How much is green tea?", mention=True)
    wait_done(clean_stack, asked["id"])
    assert "Passages" not in simulator.requests[-1].body["messages"][-1]["content"]
