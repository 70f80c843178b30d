"""Documents on the task path: converted with their limits, attached on the terminal, read in parts when long."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bots.terminal import TerminalChat, read_files
from db.models import Usage
from engine.simulator import SimulatedEngine, text_of, tokenize
from tests.fixtures import documents
from tests.helpers import settle
from workers.documents.chunks import split
from workers.documents.convert import Limits, Unreadable, convert
from workers.stack import Stack

WINDOW = 512


def ask(stack: Stack, line: str, files: list[Path], *, limits: Limits = Limits()) -> tuple[str, str]:
    attachments, notes = read_files(files, limits=limits)
    out, err = io.StringIO(), io.StringIO()
    chat = TerminalChat(
        sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, user="ana", thread="docs", out=out, err=err,
        attachments=attachments,
    )  # fmt: skip
    assert chat.ask(line) == 0, err.getvalue()
    settle(stack)
    return out.getvalue(), "\n".join(notes)


def test_each_format_converts_and_limits_say_what_was_left_out() -> None:
    deck = documents.pptx([("One", "first"), ("Two", "second"), ("Three", "third")])
    read = convert("deck.pptx", deck, limits=Limits(max_pages=2))
    assert read.text == "[slide 1]\nOne\nfirst\n\n[slide 2]\nTwo\nsecond"
    assert read.notes == ("I read the first 2 of the 3 slides of deck.pptx.",)
    book = documents.xlsx({"A": [["x", 1]], "B": [["y", None, 2]]})
    assert convert("book.xlsx", book).text == "[sheet A]\nx | 1\n\n[sheet B]\ny |  | 2"
    long = convert("long.docx", documents.docx(["word " * 400]), limits=Limits(max_chars=1000))
    assert len(long.text) == 1000 and long.notes == ("I read the first 1,000 of the 1,999 characters of long.docx.",)
    page = convert("page.html", b"<h1>Title</h1><script>alert(1)</script><p>Body &amp; soul</p>")
    assert page.text == "Title\nBody & soul"
    assert convert("t.csv", b"a,b\n1,2\n").text == "a | b\n1 | 2"
    # A NUL could not be stored in PostgreSQL: it is dropped, whatever the format carried it.
    assert convert("nul.txt", b"one\x00two").text == "onetwo"
    with pytest.raises(Unreadable, match=r"I did not read big.pdf: it is 2.0 KB; the limit is 1.0 KB\."):
        convert("big.pdf", b"%PDF" + b"0" * 2000, limits=Limits(max_bytes=1000))
    with pytest.raises(Unreadable, match=r"I can't read photo\.heic"):
        convert("photo.heic", b"....")
    with pytest.raises(Unreadable, match=r"I found no text in blank\.pdf"):
        convert("blank.pdf", documents.pdf([""]))


def test_chunks_keep_paragraphs_together_and_stay_small() -> None:
    text = "\n\n".join(f"Paragraph {n}. " + "word " * 50 for n in range(20)) + "\n\n" + "long " * 1000
    chunks = split(text, size=600)
    assert all(len(c) <= 600 for c in chunks)
    assert chunks[0].startswith("Paragraph 0.") and "Paragraph 1." in chunks[0]
    assert "".join(chunks).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_the_terminal_attaches_real_files_with_its_notes(clean_stack: Stack, simulator, tmp_path: Path) -> None:
    paths = {
        "plan.pdf": documents.pdf(["The launch is on 12 March.", "Second page."]),
        "minutes.docx": documents.docx(["The board chose Lisbon."]),
        "deck.pptx": documents.pptx([("Goals", "Reach 500 schools")]),
        "prices.xlsx": documents.xlsx({"Prices": [["tea", 3]]}),
        "photo.heic": b"not a document",
    }
    for name, data in paths.items():
        (tmp_path / name).write_bytes(data)
    files = [tmp_path / name for name in paths] + [tmp_path / "missing.pdf"]
    out, notes = ask(clean_stack, "what do these say?", files, limits=Limits(max_pages=1))
    content = simulator.requests[-1].body["messages"][-1]["content"]
    assert content.startswith("what do these say?\n\n[file plan.pdf]\n[page 1]\nThe launch is on 12 March.")
    assert "Second page" not in content
    assert "[file minutes.docx]\nThe board chose Lisbon." in content
    assert "[file deck.pptx]\n[slide 1]\nGoals\nReach 500 schools" in content
    assert "[file prices.xlsx]\n[sheet Prices]\ntea | 3" in content
    assert out.startswith("You said: what do these say?")
    assert notes.splitlines() == [
        "I read the first 1 of the 2 pages of plan.pdf.",
        "I can't read photo.heic: I read PDF, Word, PowerPoint, Excel, CSV, HTML and text files.",
        f"I could not open {tmp_path / 'missing.pdf'}: No such file or directory.",
    ]


@pytest.fixture
def small_window(clean_stack: Stack, simulator: SimulatedEngine, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The session's stack with an engine of a 512-token window (which refuses longer prompts) and no tools,
    whose descriptions alone would not fit."""
    simulator.config.max_model_len = WINDOW
    assert clean_stack.runtime is not None
    monkeypatch.setattr(clean_stack.runtime.engine, "context_window", lambda model=None: WINDOW)
    monkeypatch.setattr(clean_stack.settings, "answer_max_tokens", 128)
    monkeypatch.setattr(clean_stack.settings, "tool_max_rounds", 0)
    return clean_stack


def test_a_document_ten_times_the_window_is_read_in_parts_within_the_window(
    small_window: Stack, simulator: SimulatedEngine, tmp_path: Path
) -> None:
    stack, engine = small_window, simulator
    sentences = [f"Section {n}: the inspection of site {n} found {n % 7} faults in the wiring." for n in range(400)]
    report = tmp_path / "report.txt"
    report.write_text("\n".join(sentences))
    assert len(tokenize(report.read_text())) > 10 * WINDOW
    attachments, _notes = read_files([report])
    err = io.StringIO()
    chat = TerminalChat(
        sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, user="ana", thread="long", out=io.StringIO(),
        err=err, attachments=attachments,
    )  # fmt: skip
    assert chat.ask("How many faults were found in total?") == 0, err.getvalue()
    settle(stack)
    statuses = [line for line in err.getvalue().splitlines() if line.startswith("Reading part")]
    parts = [r for r in engine.requests if r.body["messages"][0]["content"].startswith("You are reading one part")]
    first_round = int(statuses[0].split()[4])
    assert first_round >= 10 and len(parts) >= first_round
    # The person sees each part as it is read.
    assert statuses[:first_round] == [
        f"Reading part {k} of {first_round} of report.txt…" for k in range(1, first_round + 1)
    ]
    prompts = [sum(len(tokenize(text_of(m["content"]))) + 5 for m in r.body["messages"]) + 3 for r in engine.requests]
    for request, prompt in zip(engine.requests, prompts, strict=True):
        assert prompt + int(request.body["max_tokens"]) <= WINDOW, prompt
    final = engine.requests[-1].body["messages"][-1]["content"]
    assert final.startswith("How many faults were found in total?\n\n[file report.txt]\n(Notes from reading report.txt")
    # Every call counts: the event's usage holds the parts' prompts as well as the answer's.
    with stack.sessions() as session:
        used = session.query(Usage).one()
    assert used.prompt_tokens == sum(prompts)
    print(
        f"map-reduce: {len(parts)} part calls, {len(engine.requests)} engine calls, {used.prompt_tokens} prompt tokens"
    )
