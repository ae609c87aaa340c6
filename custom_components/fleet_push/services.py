"""The fleet_push.send_command action: checks its targets, then sends through their hubs."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    entity_registry as er,
    service,
)
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids
import orjson
import probatio as vol

from .const import DEFAULT_COMMAND_TIMEOUT, DOMAIN
from .coordinator import CommandError, FleetPushCoordinator
from .hubs.model import HUB_DEVICE_ID, Command

SERVICE_SEND_COMMAND: Final = "send_command"
ATTR_COMMAND: Final = "command"
ATTR_PARAMETERS: Final = "parameters"
ATTR_TIMEOUT: Final = "timeout"
MAX_TIMEOUT: Final = 300.0

SEND_COMMAND_SCHEMA: Final = vol.Schema(
    {
        # Devices, areas, floors, labels, entities: each stands for its FleetPush devices,
        # a hub's device for every device of the hub.
        **cv.ENTITY_SERVICE_FIELDS,
        vol.Required(ATTR_COMMAND): vol.All(cv.string, vol.Length(min=1)),
        # Checked by the action itself, to answer with a translated validation error.
        vol.Optional(ATTR_PARAMETERS): cv.match_all,
        vol.Optional(ATTR_TIMEOUT, default=DEFAULT_COMMAND_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=MAX_TIMEOUT)
        ),
    }
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register fleet_push.send_command (admin only: it passes any native command on)."""
    service.async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_SEND_COMMAND,
        _async_send_command,
        SEND_COMMAND_SCHEMA,
        SupportsResponse.OPTIONAL,
    )


# --- the action ---


@dataclass(frozen=True, slots=True)
class _Target:
    """A device the action was asked to command, resolved and checked."""

    registry_id: str
    coordinator: FleetPushCoordinator
    device_id: str


async def _async_send_command(call: ServiceCall) -> ServiceResponse:
    """Check every target first, then send to all at once; one result per device."""
    command: str = call.data[ATTR_COMMAND]
    timeout: float = call.data[ATTR_TIMEOUT]
    parameters = _parameters(call.data.get(ATTR_PARAMETERS))
    targets = _targets(call.hass, call.data)
    results = await asyncio.gather(
        *(_result(target, command, parameters, timeout) for target in targets)
    )
    errors = [error for _, error in results if error is not None]
    if len(targets) == 1 and errors:
        raise errors[0]
    if errors and (len(errors) == len(targets) or not call.return_response):
        names = ", ".join(error.device for error in errors)
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="commands_failed",
            translation_placeholders={
                "command": command,
                "failed": str(len(errors)),
                "total": str(len(targets)),
                "devices": names,
            },
        )
    return {"results": [entry for entry, _ in results]}


def _parameters(value: Any) -> Mapping[str, Any]:
    """The parameters as a mapping of JSON values, or a validation error."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        try:
            orjson.dumps(value)
        except TypeError:
            pass
        else:
            return value
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invalid_parameters",
        translation_placeholders={"type": type(value).__name__},
    )


def _targets(hass: HomeAssistant, data: Mapping[str, Any]) -> list[_Target]:
    """Every FleetPush device the call names, each once.

    Those named as devices come first, checked strictly; then those in its areas, floors and
    labels and of its entities, where anything that is no FleetPush device of a loaded hub is
    passed over.
    """
    named = data.get(ATTR_DEVICE_ID)  # a list, or "none"
    targets: dict[str, _Target] = {}
    for registry_id in dict.fromkeys(named if isinstance(named, list) else ()):
        targets.update(_resolve(hass, registry_id, strict=True))
    for registry_id in sorted(_devices_around(hass, data) - targets.keys()):
        targets.update(_resolve(hass, registry_id, strict=False))
    if not targets:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_targets")
    return list(targets.values())


def _devices_around(hass: HomeAssistant, data: Mapping[str, Any]) -> set[str]:
    """The registry devices of the call's areas, floors, labels and entities."""
    around = {key: value for key, value in data.items() if key in cv.ENTITY_SERVICE_FIELDS}
    around.pop(ATTR_DEVICE_ID, None)
    selected = async_extract_referenced_entity_ids(
        hass, TargetSelection(around), expand_group=False
    )
    entities = er.async_get(hass)
    of_entities = {
        entry.device_id
        for entity_id in selected.referenced
        if (entry := entities.async_get(entity_id)) is not None and entry.device_id
    }
    return selected.referenced_devices | of_entities


def _resolve(hass: HomeAssistant, registry_id: str, *, strict: bool) -> dict[str, _Target]:
    """The fleet devices a registry device stands for (all of a hub's for the hub's own).

    Strict: a device that is none of a loaded hub's fleet is a validation error; else it is
    passed over.
    """
    try:
        device, entry = service.async_get_device_and_config_entry(hass, DOMAIN, registry_id)
    except ServiceValidationError:
        if strict:
            raise
        return {}
    coordinator: FleetPushCoordinator = entry.runtime_data
    device_id = coordinator.registry.fleet_device_id(device.identifiers)
    if device_id == HUB_DEVICE_ID:
        return _whole_fleet(coordinator)
    if device_id is not None:
        return {registry_id: _Target(registry_id, coordinator, device_id)}
    if not strict:
        return {}
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="device_not_reported",
        translation_placeholders={
            "device": device.name_by_user or device.name or registry_id,
            "hub": entry.title,
        },
    )


def _whole_fleet(coordinator: FleetPushCoordinator) -> dict[str, _Target]:
    """Every device a hub reports that has a registry device, by name."""
    targets: dict[str, _Target] = {}
    for device_id in sorted(coordinator.devices, key=coordinator.device_name):
        entry = coordinator.registry.registry_device(device_id)
        if device_id != HUB_DEVICE_ID and entry is not None:
            targets[entry.id] = _Target(entry.id, coordinator, device_id)
    return targets


async def _result(
    target: _Target, command: str, parameters: Mapping[str, Any], timeout: float
) -> tuple[dict[str, Any], CommandError | None]:
    """One device's entry in the response, and its error if the command failed."""
    try:
        result = await target.coordinator.async_send_command(
            Command(target.device_id, command, parameters, timeout)
        )
    except CommandError as err:
        entry = {"device_id": target.registry_id, "ok": False, "error": str(err), "code": err.code}
        return entry, err
    return {"device_id": target.registry_id, "ok": True, "result": result}, None
