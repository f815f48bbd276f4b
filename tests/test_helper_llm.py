"HelperLLM policy with a mock backend: bounded retries with backoff, failure counting by kind, concurrency bound, votes."
import json, threading, time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
import pytest

from looptool_nb.core import load_config, ConfigError
from looptool_nb.helper_llm import (HelperLLM, HelperLLMError, SimulatedBackend, make_helper, majority, extract_json, message_text)


def msg(t): return [{"role": "user", "content": t}]


def test_http_500_then_success_is_retried_and_counted():
    tries = Counter()
    def backend(req, rng):
        k = req["messages"][-1]["content"]; tries[k] += 1
        if tries[k] <= 2: raise HelperLLMError("http_500", "Internal Server Error")
        return "fine"
    llm = HelperLLM(SimulatedBackend(backend), max_retries=3, backoff_s=0.001)
    assert llm.batch([msg("a"), msg("b")]) == [["fine"], ["fine"]]
    assert llm.stats["fail:http_500"] == 4 and llm.stats["retries"] == 4 and llm.stats["ok"] == 2 and llm.stats["dropped"] == 0


def test_retries_are_bounded_and_failures_dropped_not_raised():
    calls = Counter()
    def backend(req, rng):
        calls["n"] += 1; raise HelperLLMError("timeout", "slow")
    llm = HelperLLM(SimulatedBackend(backend), max_retries=2, backoff_s=0.001)
    assert llm.batch([msg("a")] * 3) == [None, None, None]
    assert calls["n"] == 9 and llm.stats["fail:timeout"] == 9 and llm.stats["dropped"] == 3 and llm.stats["retries"] == 6


def test_backoff_grows():
    stamps = []
    def backend(req, rng):
        stamps.append(time.perf_counter()); raise HelperLLMError("http_503")
    HelperLLM(SimulatedBackend(backend), max_retries=3, backoff_s=0.02).chat(msg("x"))
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(gaps) == 3 and gaps[2] > gaps[0] and gaps[0] >= 0.01


def test_malformed_replies_are_counted_and_a_4xx_is_not_retried():
    def backend(req, rng):
        if "400" in req["messages"][-1]["content"]: raise HelperLLMError("http_400", retryable=False)
        return "no json here"
    llm = HelperLLM(SimulatedBackend(backend), max_retries=2, backoff_s=0.001)
    assert llm.batch([msg("x"), msg("400")], validate=lambda t: extract_json(t) is not None) == [None, None]
    assert llm.stats["fail:malformed"] == 3 and llm.stats["fail:http_400"] == 1 and llm.stats["retries"] == 2


def test_backend_crash_is_contained():
    llm = HelperLLM(SimulatedBackend(lambda r, g: 1 / 0), max_retries=1, backoff_s=0.001)
    assert llm.chat(msg("x")) is None and llm.stats["fail:backend_ZeroDivisionError"] == 2


def test_concurrency_bound_holds_across_threads():
    def backend(req, rng): time.sleep(0.005); return "ok"
    llm = HelperLLM(SimulatedBackend(backend), max_concurrency=2)
    with ThreadPoolExecutor(5) as ex: list(ex.map(lambda i: llm.batch([msg(str(i))] * 4), range(5)))
    assert llm.max_in_flight == 2 and llm.stats["ok"] == 20


def test_n_samples_and_min_replies():
    flip = Counter()
    def backend(req, rng):
        flip["n"] += 1
        if flip["n"] % 3 == 0: raise HelperLLMError("http_500")
        return "r"
    llm = HelperLLM(SimulatedBackend(backend), max_retries=0, max_concurrency=1)
    assert llm.batch([{"messages": msg("x"), "n": 3}], min_replies=1) == [["r", "r"]]
    assert llm.batch([{"messages": msg("y"), "n": 3}]) == [None]          # all n required by default


def test_majority_and_message_text():
    assert majority(["A", "B", "A"]) == ("A", True)
    assert majority(["A", "B"])[1] is False
    from types import SimpleNamespace as NS
    m = NS(content="", tool_calls=[NS(function=NS(name="f", arguments='{"a": 1}'))])
    assert message_text(m) == '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'


def test_config_errors_are_one_line():
    with pytest.raises(ConfigError, match="helper_base_url"):
        make_helper(load_config("cpu-tiny", ["helper_backend=openai", "helper_model=m"]))
    with pytest.raises(ConfigError, match="helper_model"):
        make_helper(load_config("cpu-tiny", ["helper_backend=transformers"]))
    with pytest.raises(ConfigError, match="gpu extra"):
        make_helper(load_config("cpu-tiny", ["helper_backend=vllm", "helper_model=m"]))


def test_transformers_backend_in_process(tmp_path):
    "The in-process backend with a tiny local model (random weights: proves the plumbing)."
    from test_helper_llm_server import build_tiny_qwen3
    model = build_tiny_qwen3(tmp_path / "m")
    llm = make_helper(load_config("cpu-tiny", ["helper_backend=transformers", f"helper_model={model}", "helper_max_tokens=8"]))
    r = llm.batch([msg("hello")] * 2)
    assert llm.stats["requests"] == 2 and llm.stats["ok"] + llm.stats["dropped"] == 2
    assert any(x is not None for x in r) or llm.stats["fail:empty_reply"] > 0
