"""The device registry, kept in step with the fleet: the hub's device and one per fleet device."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .fleet import Device
from .hubs.model import HUB_DEVICE_ID, HubInfo
from .identity import HardwareClaims, device_identifier, hardware_ids, hub_scope


class RegistrySync:
    """Registers the hub and its devices, with ids scoped by the hub and checked hardware ids."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], devices: Mapping[str, Device]
    ) -> None:
        """Follow the fleet `devices` (the coordinator's, shared, never copied)."""
        self.hass = hass
        self.entry = entry
        self.scope = hub_scope(entry)
        """What every identifier and unique id of this hub starts with."""
        self.hub_registry_id: str | None = None
        self._devices = devices
        self._infos: dict[str, DeviceInfo] = {}
        self._hardware = HardwareClaims()

    def register_hub(self, info: HubInfo | None) -> None:
        """Create or update the hub's own device (its name is the entry's title)."""
        known: dict[str, Any] = (
            {"manufacturer": info.manufacturer, "model": info.model, "sw_version": info.version}
            if info
            else {}
        )
        entry = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={self.identifier(HUB_DEVICE_ID)},
            name=self.entry.title,
            **known,
        )
        self.hub_registry_id = entry.id

    def device_info(self, device_id: str) -> DeviceInfo:
        """Device registry information of a fleet device or the hub, one for all its entities."""
        if (info := self._infos.get(device_id)) is None:
            info = self._infos[device_id] = self._build_device_info(self._devices[device_id])
        return info

    def known(self, devices: Iterable[Device]) -> None:
        """Take the hardware ids of devices known before the registry is used (a saved fleet)."""
        for device in devices:
            self._claim_hardware(device)

    def changed(self, device: Device) -> None:
        """A device's name, model or hardware ids changed: update it and any it shares ids with."""
        for other in self._claim_hardware(device):
            self._update(self._devices[other])
        self._update(device)

    def removed(self, device_id: str) -> None:
        """A device is gone from the hub: remove it, and give its hardware ids back."""
        if (entry := self.registry_device(device_id)) is not None:
            dr.async_get(self.hass).async_remove_device(entry.id)
        self._infos.pop(device_id, None)
        for other in self._hardware.forget(device_id):
            self._update(self._devices[other])

    def identifier(self, device_id: str) -> tuple[str, str]:
        """The device registry identifier of a fleet device ("" for the hub)."""
        return device_identifier(self.scope, device_id)

    def registry_device(self, device_id: str) -> dr.DeviceEntry | None:
        """The device registry entry of a fleet device ("" for the hub), if it has one."""
        return dr.async_get(self.hass).async_get_device_by_identifier(
            self.identifier(device_id), self.entry.entry_id
        )

    def fleet_device_id(self, identifiers: set[tuple[str, str]]) -> str | None:
        """The fleet device ("" for the hub) a registry device stands for, if the hub has it."""
        return next(
            (device_id for device_id in self._devices if self.identifier(device_id) in identifiers),
            None,
        )

    def _build_device_info(self, device: Device) -> DeviceInfo:
        if device.is_hub:
            return DeviceInfo(identifiers={self.identifier(HUB_DEVICE_ID)})
        # _Shown is a part of DeviceInfo; mypy cannot merge one TypedDict into another.
        shown = cast("DeviceInfo", _shown(device))
        info = DeviceInfo(identifiers={self.identifier(device.device_id)}, **shown)
        if connections := self._hardware.owned_by(device.device_id):
            info["connections"] = connections
        if self.hub_registry_id is not None:
            info["via_device_id"] = self.hub_registry_id
        if device.details.group:
            # Home Assistant uses it only when it creates the device: a user's area stays.
            info["suggested_area"] = device.details.group
        return info

    def _update(self, device: Device) -> None:
        self._infos.pop(device.device_id, None)
        if (entry := self.registry_device(device.device_id)) is not None:
            dr.async_get(self.hass).async_update_device(
                entry.id,
                **_shown(device),
                new_connections=self._hardware.owned_by(device.device_id),
            )

    def _claim_hardware(self, device: Device) -> set[str]:
        """Note the device's hardware ids; return the other devices that share or freed one."""
        details = device.details
        return self._hardware.claim(device.device_id, hardware_ids(details.mac, details.serial))


class _Shown(TypedDict):
    """What the device registry shows of a fleet device."""

    name: str | None
    manufacturer: str | None
    model: str | None
    model_id: str | None
    sw_version: str | None
    hw_version: str | None
    serial_number: str | None


def _shown(device: Device) -> _Shown:
    """A fleet device's details in the device registry's words."""
    details = device.details
    return {
        "name": details.name or device.device_id,
        "manufacturer": details.manufacturer,
        "model": details.model,
        "model_id": details.model_id,
        "sw_version": details.firmware,
        "hw_version": details.hardware,
        "serial_number": details.serial,
    }
