"Edge cases of the tool-call format, the reward and rule validation that the core notebook does not spell out."
import json, random, string
import pytest
from looptool_nb.core import (ParseError, calls_equal, calls_match, make_call, make_tool, parse_tool_calls,
                              render_calls, tool_call_reward, validate_call, read_samples, DataError)

A = make_call("book_flight", {"route": {"from": "OSL", "to": "BER", "legs": [{"n": 1}, {"n": 2}]}, "pax": 2})
B = make_call("get_weather", {"city": "Zürich", "days": [1, 2, 3]})


def test_nested_arguments_order_insensitive():
    other = make_call("book_flight", {"pax": 2, "route": {"legs": [{"n": 2}, {"n": 1}], "to": "BER", "from": "OSL"}})
    assert tool_call_reward(render_calls([other]), render_calls([A])) == 1.0


def test_nested_value_change_is_a_miss():
    other = make_call("book_flight", {"pax": 2, "route": {"legs": [{"n": 2}, {"n": 3}], "to": "BER", "from": "OSL"}})
    assert tool_call_reward(render_calls([other]), render_calls([A])) == 0.0


def test_parallel_calls_any_order():
    assert tool_call_reward(render_calls([B, A]), render_calls([A, B])) == 1.0


def test_duplicated_calls_are_counted():
    assert tool_call_reward(render_calls([A, A]), render_calls([A, A])) == 1.0
    assert tool_call_reward(render_calls([A, A]), render_calls([A])) == 0.0
    assert tool_call_reward(render_calls([A, A, B]), render_calls([A, B, B])) == 0.0


def test_unicode_round_trip():
    text = render_calls([B])
    assert "Zürich" in text
    assert parse_tool_calls(text) == [B]


def test_empty_and_missing_arguments():
    assert parse_tool_calls('<tool_call>\n{"name": "ping"}\n</tool_call>') == [make_call("ping")]
    assert tool_call_reward('<tool_call>\n{"name": "ping"}\n</tool_call>', render_calls([make_call("ping", {})])) == 1.0


def test_double_encoded_arguments_are_read():
    text = '<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>'
    assert parse_tool_calls(text) == [make_call("f", {"a": 1})]


def test_think_blocks():
    think = "<think>maybe <tool_call>\n{\"name\": \"wrong\"}\n</tool_call>?</think>"
    assert parse_tool_calls(think + render_calls([A])) == [A]
    assert tool_call_reward(think + "No tool fits.", "I cannot help with that.") == 1.0
    # an unclosed think block hides everything after it: no call was made
    assert parse_tool_calls("<think>still thinking " + render_calls([A])) == []


@pytest.mark.parametrize("text,reason", [
    (render_calls([A])[:-3], "unclosed_tag"),
    ('<tool_call>\n{"name": "f", "arguments": {"a": 1}\n</tool_call>', "bad_json"),
    ('<tool_call>\n["f"]\n</tool_call>', "not_an_object"),
    ('<tool_call>\n{"name": 3}\n</tool_call>', "missing_name"),
    ('</tool_call>', "unopened_tag"),
])
def test_truncated_and_malformed(text, reason):
    r = parse_tool_calls(text)
    assert isinstance(r, ParseError) and r.reason == reason
    assert tool_call_reward(text, render_calls([A])) == 0.0


def test_malformed_label_scores_zero_not_raise():
    assert tool_call_reward(render_calls([A]), "<tool_call>{broken") == 0.0


def test_text_reply_vs_call_label():
    assert tool_call_reward("I need the city first.", render_calls([B])) == 0.0
    assert calls_match("  Hello ", "Hello")


def test_type_sensitivity():
    five = make_call("f", {"n": "5"})
    assert not calls_equal([make_call("f", {"n": 5})], [five])
    assert not calls_equal([make_call("f", {"n": None})], [make_call("f", {"n": "null"})])


def test_ten_thousand_random_strings_never_raise():
    rng = random.Random(0)
    pieces = ["<tool_call>", "</tool_call>", "<think>", "</think>", "{", "}", "[", "]", '"name"', '"arguments"', ":",
              ",", "\n", " ", "null", "1e999", "\\u00", '"', "NaN", "-", "0"] + list(string.printable)
    for _ in range(10_000):
        s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        r = parse_tool_calls(s)
        assert isinstance(r, (list, ParseError))
        assert tool_call_reward(s, render_calls([A])) in (0.0, 1.0)
        assert tool_call_reward(render_calls([A]), s) in (0.0, 1.0)
        calls_match(s, s)


def test_deeply_nested_json_does_not_raise():
    deep = '<tool_call>\n{"name": "f", "arguments": ' + "[" * 5000 + "]" * 5000 + "}\n</tool_call>"
    assert isinstance(parse_tool_calls(deep), (list, ParseError))


def test_validate_call_types():
    t = make_tool("f", "d", {"n": {"type": "integer", "description": "n"}, "xs": {"type": "array", "description": "x"},
                             "o": {"type": "object", "description": "o"}, "b": {"type": "boolean", "description": "b"}}, ["n"])
    assert validate_call(make_call("f", {"n": 1, "xs": [], "o": {}, "b": False}), [t]) == []
    assert validate_call(make_call("f", {"n": True}), [t]) == ["type_mismatch:n"]
    assert validate_call(make_call("f", {"n": 1.5}), [t]) == ["type_mismatch:n"]
    assert validate_call(make_call("f", {"n": "1"}), [t]) == ["type_mismatch:n"]
    assert validate_call({"name": "f", "arguments": [1]}, [t]) == ["arguments_not_object"]


def test_corrupt_data_file_names_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "x"}\n')
    with pytest.raises(DataError, match="d.jsonl:1"):
        read_samples(p)
    with pytest.raises(DataError, match="no such data file"):
        read_samples(tmp_path / "missing.jsonl")
