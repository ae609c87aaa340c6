"""Navixy's readings_batch: counters and sensors, from the docs' sample and the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.fleet_push.hubs.connection import Drop
from custom_components.fleet_push.hubs.model import DeviceUpdate, Field, Reading
from custom_components.fleet_push.hubs.navixy_readings import READINGS_SUBSCRIPTION, reading
from tests.hubs.test_navixy import (
    SUBSCRIPTION,
    connected,
    offline_client,
    running,
    session,
    tracker_item,
)
from tests.simulator.navixy import ApiFailure, NavixySimulator, Subscription

__all__ = ["session"]  # the fixture, shared with the Navixy client tests

SAMPLE = Path(__file__).parents[1] / "fixtures" / "navixy" / "doc_readings_batch_object.json"


def readings_event(*objects: dict[str, Any]) -> str:
    return json.dumps({"type": "event", "event": "readings_batch", "data": list(objects)})


def docs_client() -> Any:
    """A hand-fed client that knows the two trackers of the docs' sample."""
    return offline_client(tracker_item(10181215, 1), tracker_item(10038816, 2))


def test_the_docs_sample_gives_counters_and_sensors() -> None:
    client, recorder = docs_client()
    client.handle_text(readings_event(json.loads(SAMPLE.read_text("utf-8"))))
    first, second = recorder
    assert first == DeviceUpdate(
        "10181215",
        values={
            Field.MILEAGE: 3232.9923342688653,
            Field.READINGS: (
                Reading(37641, "fuel", "Tank 1", 225.71, "litre"),
                Reading(37642, "fuel", "Tank 2", 113.52, "litre"),
                Reading(37643, "fuel", "Fuel", 175.31, "litre"),
            ),
        },
    )
    # No sensors: the odometer only (states and virtual sensors are shown elsewhere or not).
    assert second == DeviceUpdate("10038816", values={Field.MILEAGE: 20854.422727641213})
    assert client.stats.dropped == {}


def test_later_batches_carry_only_what_changed_and_are_merged() -> None:
    client, recorder = docs_client()
    client.handle_text(readings_event(json.loads(SAMPLE.read_text("utf-8"))))
    recorder.clear()
    tank = {"sensor_id": 37642, "label": "Tank 2", "type": "fuel", "value": 99.5}
    tank["units_type"] = "litre"
    hours = {"type": "engine_hours", "value": 1523.25}
    client.handle_text(readings_event({"10181215": {"inputs": [tank], "counters": [hours]}}))
    (update,) = recorder
    readings = update.values[Field.READINGS]
    assert isinstance(readings, tuple)
    assert [(r.sensor_id, r.value) for r in readings] == [  # type: ignore[union-attr]
        (37641, 225.71),
        (37642, 99.5),
        (37643, 175.31),
    ]
    assert update.values[Field.ENGINE_HOURS] == 1523.25
    # The same again changes nothing: no update.
    recorder.clear()
    client.handle_text(readings_event({"10181215": {"inputs": [tank]}}))
    assert recorder == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"424242": {"counters": []}}, Drop.UNKNOWN_DEVICE),
        ({"not a number": {}}, Drop.UNKNOWN_DEVICE),
        ({"10181215": "nonsense"}, Drop.UNKNOWN_DEVICE),
    ],
)
def test_readings_of_no_known_tracker_are_dropped(data: dict[str, Any], reason: Drop) -> None:
    client, recorder = docs_client()
    client.handle_text(readings_event(data))
    assert recorder == []
    assert client.stats.dropped == {reason: 1}


def test_garbage_inside_an_item_is_no_value() -> None:
    client, recorder = docs_client()
    junk = [None, {"type": ["odometer"]}, {"type": "odometer", "value": "far"}, {"type": "x"}]
    sensors = [None, {"sensor_id": "1"}, {"sensor_id": 5, "value": True, "label": 7}]
    client.handle_text(readings_event({"10181215": {"counters": junk, "inputs": sensors}}))
    (update,) = recorder
    assert update.values == {
        Field.MILEAGE: None,
        Field.READINGS: (Reading(5, "custom", "", None, None),),
    }


def test_a_reading_takes_its_unit_from_the_units_type_else_its_text() -> None:
    custom = {"sensor_id": 9, "type": "custom", "label": "Load", "value": 3, "units": " kg "}
    assert reading(custom) == Reading(9, "custom", "Load", 3.0, "kg")


async def test_readings_are_subscribed_beside_states(session: aiohttp.ClientSession) -> None:
    async with (
        running(NavixySimulator(devices=2)) as sim,
        connected(session, sim) as (_client, recorder),
    ):
        first = sim.trackers[next(iter(sim.trackers))]
        request = json.loads(sim.received[0])
        assert request["requests"] == [SUBSCRIPTION, READINGS_SUBSCRIPTION]
        update = await recorder.next(DeviceUpdate)
        while Field.MILEAGE not in update.values:
            update = await recorder.next(DeviceUpdate)
        assert update.values[Field.MILEAGE] == first.counters["odometer"]
        assert update.values[Field.ENGINE_HOURS] == first.counters["engine_hours"]


async def test_a_platform_without_readings_still_gives_states(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = NavixySimulator(devices=1)
    parse = sim._parse_request

    def older_platform(request: Any) -> Subscription:
        if isinstance(request, dict) and request.get("type") == "readings_batch":
            raise ApiFailure(7, "Invalid parameters")
        return parse(request)

    monkeypatch.setattr(sim, "_parse_request", older_platform)
    async with running(sim), connected(session, sim) as (client, recorder):
        update = await recorder.next(DeviceUpdate)
        assert update.position is not None
        assert [json.loads(text)["requests"] for text in sim.received[:2]] == [
            [SUBSCRIPTION, READINGS_SUBSCRIPTION],
            [SUBSCRIPTION],
        ]
        assert client.stats.dropped == {Drop.REQUEST_FAILED: 1}
