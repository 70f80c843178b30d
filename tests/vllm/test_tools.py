"""One tool round trip through LLMOS's tool loop and engine client, answered by the real vLLM.

vLLM runs with tool calling on, as compose.yaml starts it. SmolLM2 does not pick tools by itself, so
the first round forces the calculator with a named `tool_choice`; vLLM then constrains the call's
arguments to the tool's schema and streams it back as OpenAI tool-call deltas.
"""

from __future__ import annotations

from engine import vllm_metrics
from engine.base import ChatMessage, ChatRequest
from engine.openai_compat import OpenAICompatEngine
from tests.vllm.conftest import VLLM
from workers.tools import loop
from workers.tools.base import ToolContext
from workers.tools.builtin import BUILTIN

TOOL_ARGS = ("--enable-auto-tool-choice", "--tool-call-parser", "hermes")


def _round(engine: OpenAICompatEngine, request: ChatRequest) -> loop.Round:
    parts, prompt, completion, calls = [], None, None, ()
    for chunk in engine.stream(request):
        parts.append(chunk.text)
        prompt = chunk.prompt_tokens or prompt
        completion = chunk.completion_tokens or completion
        calls = chunk.tool_calls or calls
    return loop.Round("".join(parts).strip(), prompt, completion, calls)


def test_a_forced_calculator_call_goes_round_trip(vllm: VLLM) -> None:
    server = vllm.ensure(TOOL_ARGS)
    engine = OpenAICompatEngine(url=f"{server.url}/v1", retries=0)
    calculator = next(tool for tool in BUILTIN if tool.name == "calculate")
    asked: list[ChatRequest] = []

    def stream(request: ChatRequest) -> loop.Round:
        asked.append(request)
        return _round(engine, request)

    before = vllm_metrics.read(server.url)
    outcome = loop.run(
        ChatRequest(
            messages=(
                ChatMessage("system", "You are a helpful assistant. Use the calculator for arithmetic."),
                ChatMessage("user", "What is 17 times 23?"),
            ),
            max_tokens=48,
            temperature=0.0,
            tool_choice={"type": "function", "function": {"name": "calculate"}},
        ),
        tools=[calculator],
        ctx=ToolContext(sessions=None, place=None),  # type: ignore[arg-type]  # the calculator reads neither
        stream=stream,
        count=loop.Counters(prompt=engine.count_tokens, text=engine.count_text),
        limits=loop.Limits(max_rounds=1, timeout=10.0, max_chars=500),
    )
    change = vllm_metrics.delta(before, vllm_metrics.read(server.url))
    engine.close()
    [first] = outcome.rounds
    assert [call["name"] for call in first["calls"]] == ["calculate"]
    assert first["results"][0]  # the calculator's answer, or the error the model was shown
    # The second request carried the call and its result back, offered no tools, and was answered.
    roles = [m.role for m in asked[1].messages]
    assert roles == ["system", "user", "assistant", "tool"] and asked[1].tools == ()
    assert outcome.text
    # Both rounds' tokens, exactly as vLLM counted them.
    assert outcome.prompt_tokens == change[vllm_metrics.PROMPT_TOKENS]
    assert outcome.completion_tokens == change[vllm_metrics.GENERATION_TOKENS]
