"""Frame decoding: strict JSON, and the depth beyond which a frame is hostile."""

from __future__ import annotations

import pytest

from custom_components.fleet_push.hubs.frames import MAX_DEPTH, decode


@pytest.mark.parametrize(("opening", "closing"), [('{"a":', "}"), ("[", "]")])
def test_nesting_up_to_the_limit_decodes_and_one_more_is_refused(
    opening: str, closing: str
) -> None:
    def nested(depth: int) -> str:
        return opening * (depth - 1) + "[1]" + closing * (depth - 1)

    assert decode(nested(MAX_DEPTH)) is not None
    with pytest.raises(ValueError, match="nested too deeply"):
        decode(nested(MAX_DEPTH + 1))


def test_a_wide_shallow_frame_decodes() -> None:
    item = '{"inputs":[false,true],"gps":{"location":{"lat":1}}}'
    assert len(decode("[" + ",".join([item] * 500) + "]")) == 500
