"""MicroBatcher and ServerConfig, without a network."""

import asyncio
import concurrent.futures
import threading

import numpy as np
import pytest

from server.__main__ import parse_args
from server.batching import MicroBatcher
from server.config import ServerConfig


def run(coro):
    """asyncio.run in a thread of its own: other tests' tools may hold this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


def test_concurrent_submits_share_one_call():
    calls = []

    def fn(x):
        calls.append(len(x))
        return np.repeat(x.reshape(len(x), -1)[:, :1], 10, axis=1)

    async def main():
        b = MicroBatcher(fn, max_size=64, max_wait_s=0.05)
        b.start()
        xs = [np.full((28, 28), i, np.float32) for i in range(10)]
        results = await asyncio.gather(*(b.submit(x) for x in xs))
        await b.stop()
        return results

    results = run(main())
    assert calls == [10]
    for i, r in enumerate(results):
        assert r.batch_size == 10 and r.value[0] == i  # each gets its own row


def test_batches_never_exceed_max_size():
    calls = []

    async def main():
        b = MicroBatcher(
            lambda x: calls.append(len(x)) or np.zeros((len(x), 10)), max_size=4, max_wait_s=0.05
        )
        b.start()
        await asyncio.gather(*(b.submit(np.zeros((28, 28))) for _ in range(10)))
        await b.stop()

    run(main())
    assert max(calls) <= 4 and sum(calls) == 10


def test_a_failing_call_fails_its_requests_and_the_batcher_keeps_serving():
    state = {"fail": True}

    def fn(x):
        if state.pop("fail", False):
            raise RuntimeError("boom")
        return np.ones((len(x), 10))

    async def main():
        b = MicroBatcher(fn, max_wait_s=0.0)
        b.start()
        with pytest.raises(RuntimeError, match="boom"):
            await b.submit(np.zeros((28, 28)))
        ok = await b.submit(np.zeros((28, 28)))
        running = b.running
        await b.stop()
        return ok, running

    ok, running = run(main())
    assert ok.value.sum() == 10 and running


@pytest.mark.parametrize("inline", [False, True])
def test_the_batched_call_runs_in_a_thread_or_on_the_event_loop(inline):
    threads = []

    def fn(x):
        threads.append(threading.get_ident())
        return np.zeros((len(x), 10))

    async def main():
        b = MicroBatcher(fn, max_wait_s=0.01, inline=inline)
        b.start()
        await asyncio.gather(*(b.submit(np.zeros((28, 28))) for _ in range(3)))
        await b.stop()
        return threading.get_ident()

    loop_thread = run(main())
    assert threads and all((t == loop_thread) == inline for t in threads)


def test_fast_onnx_digit_models_batch_on_the_event_loop():
    from model import load_classifier
    from server.models import runs_inline

    assert runs_inline(load_classifier("mnist-cnn", runtime="onnx"))


def test_config_from_environment_and_flags():
    cfg = ServerConfig.from_env(
        {
            "DIGITLENS_PORT": "9001",
            "DIGITLENS_MODELS": "mnist-cnn, mnist-mlp",
            "DIGITLENS_BATCH_MAX_WAIT_MS": "0.5",
        }
    )
    assert (cfg.port, cfg.models, cfg.batch_max_wait_ms) == (9001, ("mnist-cnn", "mnist-mlp"), 0.5)
    assert cfg.host == "127.0.0.1"  # loopback unless asked
    flags = parse_args(["--port", "9100", "--max-body-bytes", "1000"])
    assert (flags.port, flags.max_body_bytes, flags.host) == (9100, 1000, "127.0.0.1")
    assert not flags.access_log and parse_args(["--access-log"]).access_log
    on = ServerConfig.from_env({"DIGITLENS_ACCESS_LOG": "Yes"})
    assert on.access_log is True and ServerConfig.from_env({"DIGITLENS_ACCESS_LOG": "0"}) == (
        ServerConfig()
    )
    assert ServerConfig.from_env(  # (as `main` hands it to its workers)
        {"DIGITLENS_ACCESS_LOG": str(True)}
    ).access_log


@pytest.mark.parametrize(
    ("flags", "env", "said"),
    [
        (["--body-timeout-s", "nan"], {}, "--body-timeout-s (DIGITLENS_BODY_TIMEOUT_S) must be"),
        (["--body-timeout-s", "-1"], {}, "must be a number >= 0, not -1.0"),
        (["--workers", "0"], {}, "--workers (DIGITLENS_WORKERS) must be a whole number >= 1"),
        (["--port", "70000"], {}, "must be 0 to 65535"),
        (
            [],
            {"DIGITLENS_BODY_TIMEOUT_S": "soon"},
            "DIGITLENS_BODY_TIMEOUT_S='soon' is not a number",
        ),
        ([], {"DIGITLENS_BATCH_MAX_WAIT_MS": "inf"}, "--batch-max-wait-ms"),
        # bool("0") is True: "0" turned the access log on
        ([], {"DIGITLENS_ACCESS_LOG": "maybe"}, "DIGITLENS_ACCESS_LOG='maybe' is not one of"),
    ],
)
def test_settings_no_server_can_run_with_are_refused_in_words(
    flags, env, said, monkeypatch, capsys
):
    """A NaN body deadline answered 500, a negative one refused every body sent in two
    pieces: refused at start-up instead, as argparse refuses a bad flag (exit 2)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        parse_args(flags)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
