"""One mapping, two languages: every shared vector maps, in Python, to the OTLP/JSON and rows the file holds."""

import pytest

from conftest import load_vectors
from vectors import python_output

CASES = load_vectors()


def test_the_vectors_cover_every_track_call():
    assert {case["call"]["kind"] for case in CASES} == {"event", "error", "metric", "log"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_python_maps_the_call_as_the_vector_says(case, isolated_env):
    otlp, rows = python_output(case, isolated_env)
    assert otlp == case["otlp"]
    assert rows == case["rows"]
