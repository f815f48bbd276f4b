"""JGLV and EDDE in LLM mode against a REAL OpenAI-compatible server (`transformers serve` with a tiny random Qwen3,
the fixture of test_helper_llm_server.py). The model's replies are noise, so this proves the plumbing and the
accounting — every request answered or counted, unreadable verdicts and samples counted, files written, no crash —
not the quality. Slow (a server start): run by `make bench`."""
import json
import pytest
from looptool_nb.core import load_config, write_samples, read_samples
from looptool_nb.judge import judge_stage, mock_probe_rows
from looptool_nb.expand import expand_stage
from looptool_nb.probe import write_rows, read_rows
from looptool_nb.student import toy_samples
from test_helper_llm_server import server  # noqa: F401  (the module-scoped server fixture)

pytestmark = pytest.mark.slow


def test_judge_and_expand_through_a_real_server(server, tmp_path):
    sets = ["helper_backend=openai", f"helper_base_url={server['url']}", f"helper_model={server['model']}",
            "helper_max_concurrency=3", "helper_max_retries=1", "helper_max_tokens=24", "n_judges=2", "edde_k=2"]
    cfg = load_config("cpu-tiny", sets)
    data = toy_samples(8)
    write_samples(tmp_path/"data.jsonl", data)
    write_rows(tmp_path/"probe.jsonl", mock_probe_rows(data, 0.0, seed=1))        # every sample fails
    s = judge_stage(cfg, tmp_path/"data.jsonl", tmp_path/"probe.jsonl", tmp_path/"judge.jsonl", iteration=1)
    rows = read_rows(tmp_path/"judge.jsonl")
    assert s["judged"] == len(rows) == 8
    valid = sum(v["verdict"] is not None for r in rows for v in r["votes"])
    assert valid + s["voting"]["invalid_votes"] == 16          # every vote is either read or counted
    assert all(r["verdict"] in ("PRED_WRONG", "LABEL_WRONG", "BOTH_CORRECT", "BOTH_WRONG") for r in rows)
    # EDDE from every judged row as if it were a PRED_WRONG seed with a call label
    seeds = [dict(r, verdict="PRED_WRONG", label_is_call=True, new_label=r["label"]) for r in rows if r["label_is_call"]]
    write_rows(tmp_path/"judge2.jsonl", seeds)
    st = expand_stage(cfg, tmp_path/"data.jsonl", tmp_path/"judge2.jsonl", tmp_path/"expand.jsonl", iteration=1)
    assert st["attempted"] == 2 * len(seeds) and st["kept"] + sum(st["rejected"].values()) == st["attempted"]
    assert len(read_samples(tmp_path/"expand.jsonl")) == st["kept"]
    print(json.dumps({"judge": s["voting"], "edde": st["rejected"]}))
