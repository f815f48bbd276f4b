"""The helper-LLM plumbing against a REAL OpenAI-compatible server: `transformers serve` on CPU with a tiny random
Qwen3 model built offline here (locally trained byte-level BPE tokenizer + Qwen3 chat template beside the weights).
The model is untrained, so its replies are noise: the test proves the plumbing (requests, concurrency bound, votes,
files written) and the failure accounting (malformed replies, HTTP 500s from the server's tool-call parser), not
quality."""
import json, os, socket, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent


def build_tiny_qwen3(out: Path) -> Path:
    "A random 1-layer Qwen3 model folder with its tokenizer and chat template (seconds, offline)."
    import torch, trl
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM, GenerationConfig
    out.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>", "</think>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = ["Hello, how can I help you today? The weather in Oslo is sunny.",
              '{"name": "get_weather", "arguments": {"city": "Oslo"}}', "[CORRECT] Error Analysis: none."] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    ft = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    ft.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen3_instruct_2507.jinja").read_text()
    ft.save_pretrained(out)
    torch.manual_seed(0)
    eos = ft.convert_tokens_to_ids("<|im_end|>")
    cfg = Qwen3Config(vocab_size=len(ft), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=1, head_dim=16, max_position_embeddings=8192, eos_token_id=eos,
                      pad_token_id=ft.pad_token_id, tie_word_embeddings=True)
    m = Qwen3ForCausalLM(cfg)
    m.generation_config = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, eos_token_id=eos, pad_token_id=ft.pad_token_id)
    m.save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("tinyqwen")
    model = build_tiny_qwen3(d / "model")
    port = free_port()
    exe = Path(sys.executable).parent / "transformers"
    log = open(d / "serve.log", "w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(exe), "serve", str(model), "--device", "cpu", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    import urllib.request
    try:
        for _ in range(240):
            if proc.poll() is not None: pytest.fail(f"transformers serve exited: {(d / 'serve.log').read_text()[-2000:]}")
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).status == 200: break
            except OSError: time.sleep(0.5)
        else: pytest.fail("transformers serve did not become healthy in 120 s")
        yield {"url": f"http://127.0.0.1:{port}/v1", "model": str(model), "log": d / "serve.log"}
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


def test_openai_backend_against_a_real_server(server):
    from looptool_nb.core import load_config
    from looptool_nb.helper_llm import make_helper
    cfg = load_config("cpu-tiny", ["helper_backend=openai", f"helper_base_url={server['url']}", f"helper_model={server['model']}",
                                   "helper_max_concurrency=3", "helper_max_retries=1", "helper_max_tokens=24"])
    llm = make_helper(cfg, backoff_s=0.05)
    reqs = [[{"role": "user", "content": f"Say hello number {i}."}] for i in range(8)]
    plain = llm.batch(reqs)                                        # any text is fine
    strict = llm.batch(reqs[:4], validate=lambda t: t.strip().startswith("{"))   # the random model almost never writes JSON
    st = llm.summary()
    assert sum(r is not None for r in plain) >= 4, st               # real replies came back over HTTP
    assert st["max_in_flight"] <= 3
    assert st["requests"] == 12 and st["ok"] + st["dropped"] == 12
    assert st.get("fail:malformed", 0) > 0 and strict.count(None) >= 3, st
    failed = sum(v for k, v in st.items() if k.startswith("fail:"))
    assert st["retries"] <= failed                                  # bounded: at most one retry per failed try


def test_llm_seed_through_a_real_server(server, tmp_path):
    from looptool_nb.core import load_config
    from looptool_nb.helper_llm import make_helper
    from looptool_nb.seed import seed_stage
    cfg = load_config("cpu-tiny", ["world=llm", "api_writer=program", "n_apis=20", "max_params=2", "candidate_tools=2",
                                   "n_dialogues=3", "n_test=2", "assistant_votes=2", "max_assistant_turns=2",
                                   "helper_backend=openai", f"helper_base_url={server['url']}", f"helper_model={server['model']}",
                                   "helper_max_concurrency=4", "helper_max_retries=1", "helper_max_tokens=24"])
    t0 = time.time()
    card = seed_stage(cfg, tmp_path / "seed", progress=False)
    assert time.time() - t0 < 120
    out = tmp_path / "seed"
    assert sorted(p.name for p in out.iterdir()) == ["apis.json", "card.json", "card.md", "hf", "test.jsonl", "train.jsonl"]
    h = card["llm"]["helper"]
    assert h["requests"] > 0 and h["max_in_flight"] <= 4
    # every request is accounted for, and the failures are counted by kind, not raised
    assert h["ok"] + h.get("dropped", 0) == h["requests"]
    assert sum(v for k, v in h.items() if k.startswith("fail:")) > 0
    tr = card["train"]
    print("LLM seed card:", json.dumps({"llm": card["llm"], "train_dropped": tr["dropped"], "generated": tr["generated"]}))
    assert tr["dialogues"] == 3 and tr["generated"] > 0                 # dialogues were played through the server
    assert tr["samples"] + sum(tr["dropped"].values()) == tr["generated"]  # every generated sample kept or dropped with a reason
    for s in [json.loads(l) for l in (out / "train.jsonl").read_text().splitlines()]:
        assert json.loads(s["meta"])["source"] == "seed"
    json.loads((out / "card.json").read_text())
