"Students: tokenizer and template facts the reward depends on, the loader's errors, the warm-start cache."
import json
from pathlib import Path
import pytest
import torch
from looptool_nb.core import Config, ConfigError, tool_call_reward
from looptool_nb.student import (TAG_TOKENS, load_student, sample_texts, toy_samples, train_tokenizer, warm_start,
                                 warmstart_stage, chat_template)

torch.set_num_threads(1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPTOOL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(sample_texts(toy_samples(32)), vocab_size=300)


def test_tool_tags_are_one_ordinary_token_each(tok):
    for t in TAG_TOKENS:
        ids = tok(t)["input_ids"]
        assert len(ids) == 1, t
        assert tok.decode(ids, skip_special_tokens=True) == t  # not special: survives decoding for the reward


def test_decoded_label_scores_one(tok):
    s = toy_samples(1)[0]
    ids = tok(s.output + "<|im_end|>")["input_ids"]
    assert tool_call_reward(tok.decode(ids, skip_special_tokens=True), s.output) == 1.0


def test_template_puts_tool_results_in_a_user_turn(tok):
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
            {"role": "assistant", "content": "<tool_call>\n{}\n</tool_call>"},
            {"role": "tool", "content": "R1"}, {"role": "tool", "content": "R2"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>user\n<tool_response>\nR1\n</tool_response>\n<tool_response>\nR2\n</tool_response><|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    assert tok.chat_template == chat_template()


@pytest.mark.parametrize("name,msg", [("tiny-2m", "unknown student"), ("gpt", "unknown student"),
                                      ("nobody/nothing-here", "not in the local Hugging Face cache")])
def test_unknown_students_are_one_line_config_errors(name, msg, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=msg) as e:
        load_student(name)
    assert "\n" not in str(e.value)


def test_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        load_student(str(tmp_path))


def test_warm_start_is_cached_by_config_and_data(cache, tmp_path):
    cfg = Config(student="tiny-1m", warmstart_steps=2, warmstart_batch_size=2, tokenizer_vocab=300)
    data = toy_samples(8)
    a = warm_start(cfg, data)
    stamp = (a / "model.safetensors").stat().st_mtime_ns
    assert warm_start(cfg, data) == a and (a / "model.safetensors").stat().st_mtime_ns == stamp
    b = warm_start(Config(student="tiny-1m", warmstart_steps=3, warmstart_batch_size=2, tokenizer_vocab=300), data)
    assert b != a and str(b).startswith(str(cache))
    assert json.loads((b / "warmstart.json").read_text())["steps"] == 3
    model, tok = load_student(str(b))
    assert type(model).__name__ == "Qwen3ForCausalLM" and len(tok) == model.config.vocab_size


def test_killed_warm_start_continues_from_its_last_checkpoint(cache, tmp_path, monkeypatch):
    "A warm start stopped between checkpoints resumes from the last one and ends with the weights of an uninterrupted one."
    import looptool_nb.student as st
    from safetensors.torch import load_file
    from transformers import TrainerCallback
    monkeypatch.setattr(st, "WARMSTART_CHECKPOINT_EVERY", 2)
    cfg = Config(student="tiny-1m", warmstart_steps=6, warmstart_batch_size=2, tokenizer_vocab=300)
    data = toy_samples(8)

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5: raise KeyboardInterrupt  # between the checkpoints of steps 4 and 6

    with pytest.raises(KeyboardInterrupt): warm_start(cfg, data, callbacks=[Kill()])
    (resume,) = (cache / "warmstart").glob(".resume-*")
    assert sorted(p.name for p in resume.glob("checkpoint-*")) == ["checkpoint-4"]
    (resume / "checkpoint-6").mkdir(); (resume / "checkpoint-6" / "model.safetensors").write_bytes(b"half")  # killed while saving
    a = warm_start(cfg, data)
    info = json.loads((a / "warmstart.json").read_text())
    assert (info["steps"], info["resumed_from_step"]) == (6, 4) and not resume.exists()
    assert info["seconds"] > 0 and len(info["log"]) == 6   # the whole log (one entry a step), not only the resumed part's
    monkeypatch.setenv("LOOPTOOL_CACHE", str(tmp_path / "cache2"))  # the same warm start, never stopped
    b = warm_start(cfg, data)
    assert json.loads((b / "warmstart.json").read_text())["resumed_from_step"] is None
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_warmstart_stage_writes_pointer(cache, tmp_path):
    from looptool_nb.core import write_samples
    write_samples(tmp_path / "train.jsonl", toy_samples(8))
    cfg = Config(student="tiny-1m", warmstart_steps=1, warmstart_batch_size=2, tokenizer_vocab=300)
    rec = warmstart_stage(cfg, tmp_path / "train.jsonl", tmp_path / "ws")
    ptr = json.loads((tmp_path / "ws" / "pointer.json").read_text())
    assert ptr["path"] == rec["path"]
    model, _ = load_student(str(tmp_path / "ws"))  # through the pointer
    assert model.config.num_hidden_layers == 4


def test_warm_start_refuses_pretrained_students_without_steps(cache):
    with pytest.raises(ConfigError, match="nothing to warm-start"):
        warm_start(Config(student="smollm2-135m"), toy_samples(2))


def test_pretrained_student_warm_starts_from_its_weights(cache, tmp_path):
    """A saved folder stands in for a pretrained student (as smollm2-135m in cpu-smol): with warmstart_steps > 0 the
    stage fine-tunes it, caches the result apart from its source and points to it; the source is left untouched."""
    from looptool_nb.core import write_samples
    src = warm_start(Config(student="tiny-1m", warmstart_steps=2, warmstart_batch_size=2, tokenizer_vocab=300), toy_samples(8))
    stamp = (src / "model.safetensors").stat().st_mtime_ns
    write_samples(tmp_path / "train.jsonl", toy_samples(8))
    cfg = Config(student=str(src), warmstart_steps=1, warmstart_batch_size=2, tokenizer_vocab=300)
    rec = warmstart_stage(cfg, tmp_path / "train.jsonl", tmp_path / "ws")
    assert rec["steps"] == 1 and rec["path"] != str(src) and Path(rec["path"]).name.startswith(src.name + "-")
    assert json.loads((tmp_path / "ws" / "pointer.json").read_text())["path"] == rec["path"]
    assert (src / "model.safetensors").stat().st_mtime_ns == stamp
    # without steps a pretrained student needs no warm start: the pointer names it as it is
    rec0 = warmstart_stage(Config(student=str(src)), tmp_path / "train.jsonl", tmp_path / "ws0")
    assert rec0 == {"path": str(src), "steps": 0}


def test_a_step_with_nan_gradients_is_skipped_not_applied(cache, tmp_path):
    "One NaN gradient (the cuDNN attention bug on H100s did this) would, clipped and applied, make every weight NaN."
    from looptool_nb.student import sft
    cfg = Config(student="tiny-1m", warmstart_steps=1, warmstart_batch_size=2, tokenizer_vocab=300)
    model, tok = load_student(str(warm_start(cfg, toy_samples(8))))
    calls = []
    def poison_second(grad):
        calls.append(1)
        return grad * float("nan") if len(calls) == 2 else grad
    model.get_input_embeddings().weight.register_hook(poison_second)
    info = sft(model, tok, toy_samples(8), cfg, tmp_path / "sft", steps=3)
    assert info["steps"] == 3 and info["nonfinite_steps_skipped"] == [2]
    assert all(p.isfinite().all() for p in model.parameters())
