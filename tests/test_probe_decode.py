"greedy_decode: batched decoding equals one-at-a-time decoding and transformers' generate; PPL from raw logits."
import math
import pytest, torch
torch.set_num_threads(1)
from looptool_nb.probe import greedy_decode, tiny_lm, encode_prompt, stop_token_ids


@pytest.fixture(scope="module")
def lm():
    model, tok = tiny_lm(seed=1)
    chats = [[{"role": "system", "content": "sys" + " x" * (i % 7)}, {"role": "user", "content": f"city {i}? " * (1 + i % 4)}]
             for i in range(20)]
    # a random model never says <|im_end|>: declare its most frequent later token a second stop token
    from collections import Counter
    first = greedy_decode(model, tok, chats, max_new_tokens=20)
    frequent = Counter(t for d in first for t in d.token_ids[1:]).most_common(1)[0][0]
    model.generation_config.eos_token_id = [tok.eos_token_id, frequent]
    return model, tok, chats


def test_batched_equals_single_and_order_kept(lm):
    model, tok, chats = lm
    a = greedy_decode(model, tok, chats, batch_size=7, max_new_tokens=20)
    b = greedy_decode(model, tok, chats, batch_size=1, max_new_tokens=20)
    assert [(d.text, d.n_tokens, d.finished) for d in a] == [(d.text, d.n_tokens, d.finished) for d in b]
    assert all(abs(x.ppl - y.ppl) <= 1e-3 * y.ppl for x, y in zip(a, b))
    assert len({d.n_tokens for d in a}) > 2          # rows stop at different steps: compaction is exercised
    # reversing the inputs reverses the outputs: no row mix-up
    r = greedy_decode(model, tok, chats[::-1], batch_size=7, max_new_tokens=20)
    assert [d.text for d in r] == [d.text for d in a][::-1]


def test_matches_transformers_generate(lm):
    model, tok, chats = lm
    ours = greedy_decode(model, tok, chats[:5], batch_size=5, max_new_tokens=20)
    stops = stop_token_ids(model, tok)
    for chat, d in zip(chats[:5], ours):
        ids = torch.tensor([encode_prompt(tok, chat)])
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=20,
                             output_logits=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id,
                             eos_token_id=stops, top_k=None, top_p=None, temperature=None)
        gen = out.sequences[0, ids.shape[1]:].tolist()
        lp = torch.log_softmax(torch.stack(out.logits, 1)[0].float(), -1).gather(-1, torch.tensor(gen)[:, None])[:, 0]
        fin = gen[-1] in stops
        assert d.text == tok.decode(gen[:-1] if fin else gen, skip_special_tokens=True)
        assert d.n_tokens == len(gen) and d.finished == fin
        assert math.isclose(d.ppl, math.exp(-lp.mean().item()), rel_tol=1e-3)


def test_ppl_is_exp_mean_nll_of_own_tokens(lm):
    "Recompute the PPL with one teacher-forced forward over prompt + answer tokens."
    model, tok, chats = lm
    d = greedy_decode(model, tok, chats[:1], max_new_tokens=12)[0]
    p = encode_prompt(tok, chats[0])
    gen = torch.tensor(d.token_ids)
    with torch.no_grad():
        logits = model(torch.tensor([p + gen.tolist()])).logits[0, len(p) - 1:-1].float()
    nll = -torch.log_softmax(logits, -1).gather(-1, gen[:, None]).mean().item()
    assert math.isclose(d.ppl, math.exp(nll), rel_tol=1e-3)
    assert d.n_tokens == len(gen)


def test_prompt_strings_and_bad_batch_size(lm):
    model, tok, chats = lm
    text = tok.apply_chat_template(chats[0], add_generation_prompt=True, tokenize=False)
    assert greedy_decode(model, tok, [text], max_new_tokens=8)[0] == greedy_decode(model, tok, chats[:1], max_new_tokens=8)[0]
    with pytest.raises(ValueError, match="batch_size"):
        greedy_decode(model, tok, chats, batch_size=0)
    assert greedy_decode(model, tok, [], max_new_tokens=8) == []
