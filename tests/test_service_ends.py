"""The repair issue before devices' paid service (a Navixy tracker's tariff) ends."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.fleet_push.const import DOMAIN
from custom_components.fleet_push.hubs.navixy_groups import service_end
from custom_components.fleet_push.service_ends import CHECK_EVERY

from .conftest import SetupHub, StartHub, coordinator_of
from .helpers import state_of


async def test_a_repair_before_a_trackers_service_ends(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=3)
    first, second, _ = hub.trackers
    today = dt_util.now().date()
    hub.trackers[first].tariff_end_date = (today + timedelta(days=3)).isoformat()
    hub.trackers[second].tariff_end_date = None  # no end
    entry = await setup_hub("navixy", hub)
    issue_id = f"service_ends_{entry.entry_id}"
    issues = ir.async_get(hass)
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "service_ending"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders == {
        "hub": entry.title,
        "count": "1",
        "devices": hub.trackers[first].label,
        "date": (today + timedelta(days=3)).isoformat(),
    }
    online = state_of(hass, entry, "binary_sensor", str(first), "online")
    assert online.attributes["service_ends"] == (today + timedelta(days=3)).isoformat()

    hub.trackers[first].tariff_end_date = (today - timedelta(days=1)).isoformat()
    await coordinator_of(entry).client.reload_fleet()
    await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "service_ended"
    assert issue.severity is ir.IssueSeverity.ERROR

    hub.trackers[first].tariff_end_date = (today + timedelta(days=365)).isoformat()  # renewed
    await coordinator_of(entry).client.reload_fleet()
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None


def test_a_tariff_end_is_a_date_or_nothing() -> None:
    assert service_end("2025-12-01") is not None
    assert service_end("2025-12-01 00:00:00") is not None
    assert service_end("2025-13-01") is None
    assert service_end(20251201) is None


async def test_the_issue_names_the_first_ten_and_appears_as_days_pass(
    hass: HomeAssistant, start_hub: StartHub, setup_hub: SetupHub
) -> None:
    hub = await start_hub("navixy", devices=12)
    today = dt_util.now().date()
    for number, tracker in enumerate(hub.trackers.values()):
        tracker.tariff_end_date = (today + timedelta(days=10 + number % 2)).isoformat()
    entry = await setup_hub("navixy", hub)
    issue_id = f"service_ends_{entry.entry_id}"
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, issue_id) is None  # ten days ahead: not yet

    # Days later, with no device list since: the twice-daily check finds them.
    for days_later, count in ((3, "6"), (4, "12")):
        later = dt_util.now() + timedelta(days=days_later)
        with patch("custom_components.fleet_push.service_ends.dt_util", now=lambda at=later: at):
            async_fire_time_changed(hass, dt_util.utcnow() + CHECK_EVERY * days_later * 2)
            await hass.async_block_till_done()
        issue = issues.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        placeholders = issue.translation_placeholders or {}
        assert placeholders["count"] == count  # the first six end in ten days, six a day later
        assert placeholders["date"] == (today + timedelta(days=10)).isoformat()
    named = placeholders["devices"].split(", ")
    assert len(named) == 11
    assert named[-1] == "…"  # the first ten, then an ellipsis
