"The bench scripts' own logic (their measurements run from `make bench`)."
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/"bench"))
from heldout_failures import error_kind
from looptool_nb.core import make_call, render_calls

A = render_calls([make_call("get_weather", {"city": "Oslo"})])


def test_error_kind_names_the_first_thing_wrong():
    assert error_kind(A, A) == "right"
    assert error_kind(A, "Sorry, no tool can do that.") == "call_on_no_call_label"
    assert error_kind("It is sunny in Oslo.", A) == "no_call_on_call_label"
    assert error_kind("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\n</tool_call>", A) == "unparsable"
    assert error_kind(render_calls([make_call("get_weather", {"city": "Oslo"})] * 2), A) == "number_of_calls"
    assert error_kind(render_calls([make_call("get_forecast", {"city": "Oslo"})]), A) == "function"
    assert error_kind(render_calls([make_call("get_weather", {"city": "Lima"})]), A) == "argument_values"
