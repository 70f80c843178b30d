"""Time from a Slack event's arrival to the first streamed text reaching the Slack Web API, with the real model.

A signed `app_mention` goes to the real HTTP endpoint (bolt app, aiohttp), through intake, the queue
(in-process broker) and the worker, to the embedded SmolLM2 model (llama.cpp), and its first words
reach a fake Slack Web API on localhost as `chat.appendStream`. The same run, interleaved, answers
with the engine simulator (no model time) to show what the Slack path itself costs.

    .venv/bin/python -m benchmarks.slack_first_text [--runs 7] [--redis redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bots.slack.settings import load_slack_settings
from bots.slack.surface import SlackSurface
from db.models import ProcessedEvent
from engine.base import Engine
from engine.embedded import EmbeddedEngine
from engine.openai_compat import OpenAICompatEngine
from engine.simulator import SimulatedEngine
from tests.fixtures.fake_slack import BOT_TOKEN, BOT_USER, FakeSlack
from tests.fixtures.slack_wire import SIGNING_SECRET, SlackHttp
from workers.settings import load_settings
from workers.stack import Stack

QUESTION = "What is the capital of France?"
CHANNEL = "C0BENCH001"
USER = "U0ALICE01"


@dataclass
class Sample:
    ack: float
    stream_open: float
    first_text: float
    done: float
    queue_wait: float
    model_first_token: float


def one_run(stack: Stack, http: SlackHttp, fake: FakeSlack) -> Sample:
    ts = fake.say(CHANNEL, USER, f"<@{BOT_USER}> {QUESTION}")
    event = {"type": "app_mention", "user": USER, "text": f"<@{BOT_USER}> {QUESTION}", "ts": ts, "channel": CHANNEL}
    sent_mono, sent_wall = time.monotonic(), time.time()
    assert http.event(event).status_code == 200
    acked = time.monotonic() - sent_mono
    fake.answer(CHANNEL, ts, timeout=120)
    opened = next(c for c in fake.calls_to("chat.startStream") if c.args["thread_ts"] == ts)
    stream_ts = next(m.ts for m in fake.replies(CHANNEL, ts))
    first = next(c for c in fake.calls_to("chat.appendStream") if c.args["ts"] == stream_ts)
    stopped = next(c for c in fake.calls_to("chat.stopStream") if c.args["ts"] == stream_ts)
    with stack.sessions() as session:
        row = session.scalars(select(ProcessedEvent).where(ProcessedEvent.key.endswith(ts))).one()
        started, first_token = row.started_at or sent_wall, row.first_token_at or sent_wall
    return Sample(
        ack=acked,
        stream_open=opened.at - sent_mono,
        first_text=first.at - sent_mono,
        done=stopped.at - sent_mono,
        queue_wait=started - sent_wall,
        model_first_token=first_token - started,
    )


def summarize(name: str, samples: list[Sample]) -> dict[str, object]:
    row: dict[str, object] = {"engine": name, "runs": len(samples)}
    for field in ("ack", "queue_wait", "stream_open", "model_first_token", "first_text", "done"):
        values = sorted(getattr(s, field) * 1000 for s in samples)
        row[f"{field}_p50_ms"] = round(statistics.median(values), 1)
        row[f"{field}_max_ms"] = round(values[-1], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--redis", default=None, help="broker, e.g. redis://127.0.0.1:6379/9 (default: in-process)")
    args = parser.parse_args()
    samples: dict[str, list[Sample]] = {"embedded": [], "simulator": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedEngine(context_window=2048) as model,
        SimulatedEngine() as simulator,
    ):
        fake = FakeSlack().start()
        engines: dict[str, Engine] = {
            "embedded": OpenAICompatEngine(url=model.url, context_window=2048),
            "simulator": OpenAICompatEngine(url=simulator.url),
        }
        settings = load_settings(
            _env_file=None,
            llmos_home=Path(tmp),
            redis_url=args.redis,
            redis_autodetect=False,
            answer_max_tokens=48,
            worker_concurrency=2,
        )
        slack = load_slack_settings(
            _env_file=None,
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            api_url=fake.api_url,
            host="127.0.0.1",
            port=0,
        )
        with Stack(settings, engine=engines["embedded"]) as stack:
            stack.start_worker()
            surface = SlackSurface(settings=slack, stack=stack)
            surface.start()
            assert surface.http is not None and stack.runtime is not None
            http = SlackHttp(surface.http.url)
            try:
                for engine in engines.values():  # warm both: model load, first-request caches
                    stack.runtime.engine = engine
                    one_run(stack, http, fake)
                for _ in range(args.runs):
                    for name, engine in engines.items():  # interleaved, so both see the same machine noise
                        stack.runtime.engine = engine
                        samples[name].append(one_run(stack, http, fake))
            finally:
                http.close()
                surface.stop()
        fake.stop()
    rows = [summarize(name, runs) for name, runs in samples.items()]
    print(f"Slack event arrival -> first streamed text at the Slack Web API (ms); broker: {stack.broker.label}")
    header = ("engine", "ack", "queue", "stream open", "model 1st token", "FIRST TEXT", "done")
    print(f"{header[0]:<10}" + "".join(f"{h:>17}" for h in header[1:]))
    for row in rows:
        cells = [
            f"{row[f'{f}_p50_ms']:>8} ({row[f'{f}_max_ms']:>6})"
            for f in ("ack", "queue_wait", "stream_open", "model_first_token", "first_text", "done")
        ]
        print(f"{row['engine']:<10}" + "".join(f"{c:>17}" for c in cells))
    print("p50 (max) over", args.runs, "runs each; queue and model times are from the event's step timestamps.")
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    name = "slack_first_text_redis.json" if args.redis else "slack_first_text.json"
    (out / name).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
