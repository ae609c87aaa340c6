"""The normalized updates every hub client emits, whatever its wire protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from .geofence import Geofence

HUB_DEVICE_ID: Final = ""
"""The device id under which a hub's own values (version, licence) are kept."""
MAX_LATITUDE: Final = 90.0
MAX_LONGITUDE: Final = 180.0
NOT_IN_GEOFENCE: Final = "none"
"""Field.GEOFENCE of a device in none of its hub's geofences."""
SERVICE_ENDS: Final = "service_ends"
"""The extra giving the date (ISO) a device's paid service ends: a repair warns before."""


class Field(StrEnum):
    """Measurements a device or hub can report; entity descriptions are keyed by these."""

    # Fleet devices.
    ONLINE = "online"
    BUSY = "busy"
    USB = "usb"
    USB_COMPUTER = "usb_computer"
    """The phone's USB hardware connected to the hub's computer (iMouse XP)."""
    BATTERY = "battery"
    BATTERY_VOLTAGE = "battery_voltage"
    EXTERNAL_VOLTAGE = "external_voltage"
    IGNITION = "ignition"
    MOVING = "moving"
    SPEED = "speed"
    ALTITUDE = "altitude"
    GPS_SIGNAL = "gps_signal"
    GSM_SIGNAL = "gsm_signal"
    SATELLITES = "satellites"
    MILEAGE = "mileage"
    INPUTS = "inputs"
    OUTPUTS = "outputs"
    SCREEN_CASTING = "screen_casting"
    """The phone's screen is cast to the hub's computer (iMouse XP's AirPlay)."""
    ORIENTATION = "orientation"
    """How the phone's screen is turned: one of Orientation."""
    CHIP = "chip"
    """The USB chip board a phone is bound to (iClick)."""
    IP_ADDRESS = "ip_address"
    LANGUAGE = "language"
    TIME_ZONE = "time_zone"
    GEOFENCE = "geofence"
    """The label of the hub's geofence the device is in (the smallest of several); NOT_IN_GEOFENCE
    in none. Set from positions by FleetPush itself, for hubs that list geofences."""
    LAST_TRIP_DISTANCE = "last_trip_distance"
    """km of the device's last finished trip (changes once per trip)."""
    # Hubs.
    CONNECTED = "connected"
    LICENCES_TOTAL = "licences_total"
    LICENCES_LOCAL = "licences_local"
    DEVICES = "devices"
    DEVICES_ONLINE = "devices_online"
    LICENCE_EXPIRES = "licence_expires"
    # Fleet devices: counters and the data already on the wire.
    ENGINE_HOURS = "engine_hours"
    """Hours the engine has run, in total."""
    FUEL = "fuel"
    """Litres in the tank."""
    ANTI_THEFT = "anti_theft"
    """On: the anti-theft mode is armed."""
    RELAY = "relay"
    """On: the tracker's relay (the engine cut-off) is closed."""
    EXTERNAL_BATTERY_LOW = "external_battery_low"
    ADDRESS = "address"
    """The street address the hub gives for the fix."""
    READINGS = "readings"
    """The sensors a tracker reads (fuel tanks, thermometers), as Reading items."""
    TOTAL_ONLINE = "total_online"
    """How many of the hub's devices are online (counted by FleetPush)."""
    TOTAL_OFFLINE = "total_offline"
    TOTAL_MOVING = "total_moving"
    TOTAL_BUSY = "total_busy"


class Category(StrEnum):
    """What a tracked device is, as far as its hub says: it picks the icon of its location."""

    VEHICLE = "vehicle"
    TRUCK = "truck"
    BUS = "bus"
    PERSONAL = "personal"
    """Carried by a person."""
    PORTABLE = "portable"
    """A portable (asset) tracker."""
    LOGGER = "logger"
    """Records tracks rather than following something in particular."""
    TRACKER = "tracker"
    """A tracker the hub says nothing more about."""


class Orientation(StrEnum):
    """How a phone's screen is turned."""

    PORTRAIT = "portrait"
    LANDSCAPE = "landscape"


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor a tracker reads (a fuel tank, a thermometer), described by what it is."""

    sensor_id: int
    kind: str
    """The hub's type of sensor ("fuel", "temperature", "custom", ...)."""
    label: str
    """The name the user gave it on the hub ("Tank 1")."""
    value: float | None
    unit: str | None = None
    """The hub's name of its unit ("litre", "celsius"), or its free text for a custom one."""


type Value = bool | int | float | str | datetime | tuple[bool, ...] | tuple[Reading, ...] | None
"""A reported value; None means the hub reported the field without a usable value."""


@dataclass(frozen=True, slots=True)
class Position:
    """A GPS fix: always a place on Earth (made with checked() from what a hub says)."""

    latitude: float
    longitude: float
    time: datetime | None = None
    speed: float | None = None
    """km/h"""
    heading: float | None = None
    """degrees from north"""
    altitude: float | None = None
    """metres"""
    accuracy: float | None = None
    """metres"""

    def __post_init__(self) -> None:
        """Refuse coordinates that name no place (beyond the poles, NaN, infinite)."""
        if not is_place(self.latitude, self.longitude):
            raise ValueError(f"no place on Earth: {self.latitude!r}, {self.longitude!r}")

    @classmethod
    def checked(
        cls,
        latitude: float | None,
        longitude: float | None,
        *,
        time: datetime | None = None,
        speed: float | None = None,
        heading: float | None = None,
        altitude: float | None = None,
        accuracy: float | None = None,
    ) -> Position | None:
        """The fix a hub reports, or None when its coordinates are missing or name no place.

        Its time, accuracy, speed and altitude are judged later, with every other value
        (plausibility.py).
        """
        if latitude is None or longitude is None or not is_place(latitude, longitude):
            return None
        return cls(float(latitude), float(longitude), time, speed, heading, altitude, accuracy)


def is_place(latitude: float, longitude: float) -> bool:
    """Whether coordinates name a place on Earth (NaN and infinities fail the comparisons)."""
    return (
        -MAX_LATITUDE <= latitude <= MAX_LATITUDE and -MAX_LONGITUDE <= longitude <= MAX_LONGITUDE
    )


_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DeviceDetails:
    """Who a device is, as its hub names it (what the device registry shows); None: not said."""

    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    model_id: str | None = None
    firmware: str | None = None
    hardware: str | None = None
    mac: str | None = None
    serial: str | None = None
    category: Category | None = None
    picture: str | None = None
    """The URL of its picture on the hub (an avatar), shown on the map."""
    group: str | None = None
    """The hub's own grouping of the device (a group, a network): its suggested area."""

    def updated(self, newer: DeviceDetails) -> DeviceDetails:
        """These details with what `newer` says (what it does not say stays)."""
        if newer == self:  # what a hub resends with every report: one tuple comparison
            return self
        said = {
            name: value
            for name in DETAIL_FIELDS
            if (value := getattr(newer, name)) is not None and value != getattr(self, name)
        }
        return replace(self, **said) if said else self


DETAIL_FIELDS: Final = tuple(detail.name for detail in fields(DeviceDetails))
NO_DETAILS: Final = DeviceDetails()


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """What a hub reports of a device or of itself; None and absent keys mean "not said"."""

    values: Mapping[Field, Value] = field(default_factory=dict)
    extras: Mapping[str, Any] = _EMPTY
    """Other vendor values, shown as attributes but never recorded."""
    channels: frozenset[str] | None = None
    """Event channels it has (see HubNotice.channel), when the hub knows them."""


@dataclass(frozen=True, slots=True)
class DeviceUpdate(Report):
    """What a hub said about one device."""

    device_id: str
    details: DeviceDetails = NO_DETAILS
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class DeviceRemoved:
    """The hub deleted a device."""

    device_id: str


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """The hub's device list: when complete, devices not in it are gone."""

    devices: tuple[DeviceUpdate, ...]
    complete: bool = True
    """False when the list is only what the hub happened to report (nothing is removed)."""


@dataclass(frozen=True, slots=True)
class HubUpdate(Report):
    """What a hub said about itself (version, licence figures)."""

    version: str | None = None


@dataclass(frozen=True, slots=True)
class HubNotice:
    """Something that happened: a log line, an alarm, a lifecycle change."""

    channel: str
    event_type: str
    device_id: str = HUB_DEVICE_ID
    attributes: Mapping[str, Any] = _EMPTY


@dataclass(frozen=True, slots=True)
class GeofenceList:
    """Every geofence the hub has (those said before and not listed again are gone)."""

    geofences: tuple[Geofence, ...]


type HubMessage = (
    DeviceUpdate | DeviceRemoved | FleetSnapshot | HubUpdate | HubNotice | GeofenceList
)


@dataclass(frozen=True, slots=True)
class Command:
    """A hub's own command for one of its devices: sent once, answered within `timeout` s."""

    device_id: str
    name: str
    parameters: Mapping[str, Any]
    timeout: float


@dataclass(frozen=True, slots=True)
class HubInfo:
    """Who the hub is, learned while connecting."""

    unique_id: str
    title: str
    manufacturer: str
    model: str | None
    """None where the hub is no product of its own (an account on a platform)."""
    version: str | None = None
