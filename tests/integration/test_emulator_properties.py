"""Properties of the emulator core: every batch the client's own rules accept, it accepts."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.rows import SCENE_ID_PATTERN
from batchcore.emulator import Emulator, EmulatorConfig, EmuRequest
from tests.conftest import fake_key

_EMU = Emulator(EmulatorConfig(rate_limit_per_minute=0))
_HEADERS = {"x-api-key": fake_key(), "content-type": "application/json"}

scene_ids = st.from_regex(SCENE_ID_PATTERN, fullmatch=True)
prompts = st.text(min_size=1, max_size=1000).filter(lambda p: len(p.encode("utf-16-le")) // 2 <= 1000)
row = st.fixed_dictionaries({"scene_id": scene_ids, "prompt": prompts, "variants": st.integers(1, 3)})


def _post(body: dict) -> tuple[int, dict]:
    answer = _EMU.handle(EmuRequest("POST", "/batch/images", headers=_HEADERS, body=json.dumps(body).encode()))
    return answer.status, answer.json()


@given(st.lists(row, min_size=1, max_size=10))
def test_rows_within_the_limits_are_accepted_and_priced(items):
    """Any 1..10 rows within the limits get a 200 dry-run priced at $0.002 per image."""
    status, body = _post({"items": items, "runMode": "dry_run"})
    assert status == 200
    assert abs(body["estimatedCost"] - 0.002 * sum(i["variants"] for i in items)) < 1e-9


@given(st.lists(row, min_size=1, max_size=10), st.integers().filter(lambda v: not 1 <= v <= 3), st.data())
def test_any_row_with_out_of_range_variants_makes_the_whole_batch_400(items, bad, data):
    """One row with variants outside 1..3 makes the whole batch the generic schema 400."""
    index = data.draw(st.integers(0, len(items) - 1))
    items[index] = {**items[index], "variants": bad}
    status, body = _post({"items": items})
    assert status == 400 and body["detail"] == "Request does not match expected schema"
