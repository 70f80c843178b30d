"""Property tests of the one request parser every surface uses: any line parses to a defined request."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from workers.commands import COMMANDS
from workers.events import Kind
from workers.requests import MAX_COUNT, parse
from workers.skills import SKILLS

WORDS = [*(str(k) for k in Kind), "sum", "summary", "tr", "reply", "settings", "preferences", "?", "nope"]
# Text that mixes what people type with what breaks naive parsing: other scripts' digits, huge
# numbers, lone surrogates, NULs, odd whitespace.
PIECES = st.one_of(
    st.text(),
    st.sampled_from(
        ["\u00b2", "\u2075", "\u0663", "\uff15", "9" * 5000, "-1", "0", "1e9", "\ud800", "\x00", "\t", "\u2028"]
    ),
    st.integers().map(str),
)
LINES = st.one_of(
    st.text(),
    st.builds(lambda w, parts: "/" + w + " " + " ".join(parts), st.sampled_from(WORDS), st.lists(PIECES, max_size=4)),
)


@given(LINES)
@settings(max_examples=400, deadline=None)
@example("/summarize \u00b2")
@example("/quiz \u2075 planets")
@example("/minutes " + "9" * 5000)
def test_every_line_parses_to_a_defined_request(line: str) -> None:
    request = parse(line)
    assert isinstance(request.kind, Kind)
    # Whatever is kept can be stored and sent: valid UTF-8, no NUL.
    request.text.encode("utf-8")
    assert "\x00" not in request.text
    for value in request.args.values():
        value.encode("utf-8")
    if "n" in request.args:
        assert request.args["n"].isascii() and 1 <= int(request.args["n"]) <= MAX_COUNT
    if request.kind is Kind.HELP and "error" in request.args:
        assert request.args["error"].startswith("unknown command")
    assert request.kind in SKILLS or request.kind in COMMANDS
