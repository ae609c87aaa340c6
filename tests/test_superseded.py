"""A state FleetPush replaces is freed at once: no cycle with its event is left behind."""

from __future__ import annotations

import gc

from homeassistant.const import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED
from homeassistant.core import Context, Event, HomeAssistant, callback
import pytest

from custom_components.fleet_push.superseded import release_superseded

from .conftest import SetupTracker
from .helpers import wait_for


@callback
def _ignore(_event: Event) -> None:
    """A listener: Home Assistant makes no event at all for nobody."""


async def test_a_tracker_lets_its_previous_state_go(
    hass: HomeAssistant, one_tracker: SetupTracker
) -> None:
    tracker = await one_tracker()
    first = hass.states.get(tracker.location)
    context = first.context
    assert context.origin_event is not None  # Home Assistant's cycle: context -> event -> state
    assert context.origin_event.data["new_state"] is first

    tracker.hub.move(tracker.tracker_id, 48.10, 11.50)
    await wait_for(lambda: hass.states.get(tracker.location).attributes["latitude"] == 48.10)

    assert context.origin_event is None
    assert hass.states.get(tracker.location).context.origin_event is not None  # current stays


@pytest.mark.parametrize("released", [True, False])
async def test_a_released_state_needs_no_garbage_collector(
    hass: HomeAssistant, released: bool
) -> None:
    hass.bus.async_listen(EVENT_STATE_CHANGED, _ignore)  # an event is only made for listeners
    hass.states.async_set("sensor.fleet_push_sample", "1")
    context = hass.states.get("sensor.fleet_push_sample").context
    gc.disable()
    try:
        if released:
            release_superseded(hass.states.get("sensor.fleet_push_sample"))
        hass.states.async_set("sensor.fleet_push_sample", "2")
        await hass.async_block_till_done()
        left = [
            item for item in gc.get_objects() if type(item) is Event and item.context is context
        ]
    finally:
        gc.enable()
    assert bool(left) is not released  # without release, only a full collection frees it


async def test_a_context_from_elsewhere_keeps_its_origin(hass: HomeAssistant) -> None:
    hass.bus.async_listen(EVENT_CALL_SERVICE, _ignore)
    hass.bus.async_listen(EVENT_STATE_CHANGED, _ignore)
    context = Context()
    hass.bus.async_fire(EVENT_CALL_SERVICE, {"domain": "button"}, context=context)
    hass.states.async_set("button.fleet_push_sample", "pressed", context=context)
    state = hass.states.get("button.fleet_push_sample")

    release_superseded(state)

    assert context.origin_event is not None
    assert context.origin_event.event_type == EVENT_CALL_SERVICE


async def test_nothing_to_release(hass: HomeAssistant) -> None:
    release_superseded(hass.states.get("sensor.never_written"))
