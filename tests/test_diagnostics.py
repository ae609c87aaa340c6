"""Diagnostics of every hub kind: what a bug report needs, no secret, no whereabouts."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.fleet_push.hubs import HUB_KINDS, client_class

from .conftest import SetupHub, StartHub
from .helpers import device_of, entity_id, wait_for, wait_for_entity
from .kinds import tftiot_doc_snapshot

REDACTED = "**REDACTED**"


def _volatile(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Counters depend on timing, fix times on the clock, ports on what was free: left out."""
    return snapshot(exclude=props("stats", "time", "port"))


def secrets_of(hub: Any) -> list[str]:
    """What signs in to the hub, and who the account is."""
    names = ("api_key", "login", "password", "password_md5", "secret")
    found = [value for name in names if isinstance(value := getattr(hub, name, None), str)]
    if hub.kind == "tftiot":
        found.append(hub.user_id)
    return found


def whereabouts_of(hub: Any) -> list[str]:
    """What identifies the hub's devices' hardware, and where they are."""
    match hub.kind:
        case "navixy":
            return [
                text
                for tracker in hub.trackers.values()
                for text in (
                    tracker.device_id,  # the IMEI
                    str(tracker.state["gps"]["location"]["lat"])[:7],
                    str(tracker.state["gps"]["location"]["lng"])[:7],
                )
            ]
        case "tftiot":
            return [
                text
                for imei, tracker in hub.trackers.items()
                for text in (imei, str(round(tracker.lat, 6))[:7])
            ]
        case "imouse":
            return [record["mac"] for record in hub.devices.values()]
    return []


async def _shown(hass: HomeAssistant, entry: Any, kind: str, hub: Any) -> None:
    """Wait until every device is known, and every tracker has its position."""
    for device in hub.fleet_ids():
        await wait_for_entity(hass, entry, "binary_sensor", device, "online")
    if kind in ("navixy", "tftiot"):
        for device in hub.fleet_ids():
            location = await wait_for_entity(hass, entry, "device_tracker", device, "location")
            await wait_for(
                lambda location=location: hass.states.get(location).attributes.get("latitude")
            )
    await hass.async_block_till_done()


@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_entry_diagnostics_are_redacted(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    hub = await start_hub(kind, devices=2)
    entry = await setup_hub(kind, hub)
    await _shown(hass, entry, kind, hub)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics == _volatile(snapshot)
    assert diagnostics["hub"]["stats"]["frames"] >= 1
    assert diagnostics["hub"]["available"] is True
    assert diagnostics["hub"]["kind"] == kind
    secret_settings = client_class(kind).declaration.secrets
    for key, value in diagnostics["entry"]["data"].items():
        assert value == REDACTED or key not in secret_settings, key
    assert len(diagnostics["devices"]) == len(hub.fleet_ids())
    for device in diagnostics["devices"]:
        assert device["device_id"] == REDACTED
        assert isinstance(device["values"]["online"], bool)  # plain JSON, not a Python repr
    text = str(diagnostics)
    leaked = [secret for secret in secrets_of(hub) + whereabouts_of(hub) if secret in text]
    assert leaked == []


async def test_device_diagnostics_are_redacted(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_client: ClientSessionGenerator,
) -> None:
    hub = await start_hub("navixy", devices=1)
    entry = await setup_hub("navixy", hub)
    (tracker,) = hub.trackers.values()
    device_id = str(tracker.tracker_id)
    location = await wait_for_entity(hass, entry, "device_tracker", device_id, "location")
    await wait_for(lambda: hass.states.get(location).attributes.get("latitude"))
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    (device,) = diagnostics["devices"]
    assert device["position"]["latitude"] == REDACTED
    assert device["serial"] == REDACTED
    assert device["channels"] == ["geofence", "lifecycle", "trip"]  # the account has geofences

    registry_device = device_of(hass, entry, device_id)
    assert registry_device is not None
    about = await get_diagnostics_for_device(hass, hass_client, entry, registry_device)
    assert about["hub"] is None
    assert about["device"]["values"] == device["values"]
    shown = {entity["entity_id"]: entity for entity in about["entities"]}
    assert location == entity_id(hass, entry, "device_tracker", device_id, "location")
    assert shown[location]["attributes"]["latitude"] == REDACTED
    assert str(tracker.state["gps"]["location"]["lat"])[:6] not in str(about)
    assert [secret for secret in secrets_of(hub) if secret in str(about)] == []

    kernel = await get_diagnostics_for_device(hass, hass_client, entry, device_of(hass, entry, ""))
    assert kernel["hub"]["kind"] == "navixy"
    assert kernel["device"]["values"]["connected"] is True


async def test_diagnostics_hide_the_imei_of_an_unnamed_tracker(
    hass: HomeAssistant,
    start_hub: StartHub,
    setup_hub: SetupHub,
    hass_client: ClientSessionGenerator,
) -> None:
    hub = await start_hub("tftiot", devices=1)
    entry = await setup_hub("tftiot", hub)
    hub.rest_enabled = False  # REST is down: no list names the new tracker
    await hub.push(tftiot_doc_snapshot())  # the vendor's tracker
    imei = "1000000000112567"
    await wait_for_entity(hass, entry, "binary_sensor", imei, "online")

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert imei not in str(diagnostics)
