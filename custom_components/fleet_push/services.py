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
    service,
)
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
        vol.Required(ATTR_DEVICE_ID): vol.All(cv.ensure_list, [cv.string]),
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
    targets = [_target(call.hass, device) for device in dict.fromkeys(call.data[ATTR_DEVICE_ID])]
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


def _target(hass: HomeAssistant, registry_id: str) -> _Target:
    """Resolve a registry device to a connected hub's fleet device, or a validation error."""
    device, entry = service.async_get_device_and_config_entry(hass, DOMAIN, registry_id)
    coordinator: FleetPushCoordinator = entry.runtime_data
    placeholders = {"device": device.name_by_user or device.name or registry_id, "hub": entry.title}
    device_id = coordinator.registry.fleet_device_id(device.identifiers)
    if device_id is None:
        key = "device_not_reported"
    elif device_id == HUB_DEVICE_ID:
        key = "hub_device"
    else:
        return _Target(registry_id, coordinator, device_id)
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


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
