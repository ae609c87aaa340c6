"""Navixy GPS tracking platform: REST for the account and commands, Atmosphere WebSocket events.

The configured URL is the API base (``https://api.eu.navixy.com/v2``). The client logs in over
REST (an API key is used as the hash directly), loads the tracker list, opens
``<base>/event/subscription`` and, once the Atmosphere handshake arrived, subscribes to
``state_batch`` for every tracker. Navixy states name a ``source_id``; it is mapped to the
tracker id through ``tracker/list``. Who made each tracker comes from ``tracker/list_models``
(asked once per model code), what it is fitted to from ``vehicle/list``: both only tell, so a
platform that refuses them still connects.

Liveness: the handshake (``uuid|30000|X|``) says how often the *client* sends its ``X``
heartbeat. The server's own heartbeat is not announced and ``state_batch`` sends only changes,
so a quiet fleet may say nothing for minutes: WebSocket pings decide, and silence only counts
(after atmosphere.js's five minutes) on a server that never answers them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
import functools
import logging
import math
import re
from typing import Any, Final, override
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
import orjson
from yarl import URL

from .connection import REQUEST_TIMEOUT, Drop, HubClient, Listener, Timing, cancel_and_wait
from .declaration import GROUPS_OPTION, Channel, HubDeclaration, Setting, SettingType
from .errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubError,
    HubTimeout,
    InvalidAuth,
    ProtocolError,
    SessionClosed,
)
from .frames import decode
from .geofence import CHANNEL as CHANNEL_GEOFENCE, EVENT_TYPES, ZONES_OPTION, Geofence
from .model import (
    Category,
    Command,
    DeviceDetails,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    GeofenceList,
    HubInfo,
    HubNotice,
    Position,
    Value,
)
from .navixy_alarms import ALARM_EVENTS, CHANNEL_ALARM, NavixyAlarms
from .navixy_groups import Grouping, read_groups
from .navixy_map import avatar_url, vehicle_avatars
from .navixy_readings import READINGS_SUBSCRIPTION, ReadingsBook
from .navixy_trips import NavixyTrips
from .navixy_zones import RELOAD_INTERVAL, fill_points, parse_zones
from .trips import CHANNEL_TRIP, TRIP_EVENTS
from .urls import as_websocket
from .values import are_flags, as_float, as_number, as_text, is_int, is_number, names_by_id

_LOGGER = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://api.eu.navixy.com/v2"
MANUFACTURER: Final = "Navixy"
HEARTBEAT: Final = "X"
CHANNEL_LIFECYCLE: Final = "lifecycle"
LIFECYCLE_EVENTS: Final = ("block", "unblock", "corrupt")
CHANNELS: Final = frozenset({CHANNEL_LIFECYCLE, CHANNEL_TRIP})
ALARMS_OPTION: Final = "alarms"
ALARM_INTERVAL_OPTION: Final = "alarm_interval"
ALARM_INTERVAL_MINUTES: Final = 1
WAITING_LIMIT: Final = 10_000
"""States of not-yet-listed trackers kept until the next reload."""
WS_HEARTBEAT: Final = 30.0
"""Ping a quiet server this often (as a live Navixy client does); it answers within half."""
SILENCE_LIMIT: Final = 300.0
"""A server that never answers pings is given up after this long without a frame (atmosphere.js)."""
HANDSHAKE_WAIT: Final = 5.0
"""Subscribe anyway when the Atmosphere handshake has not come within this many seconds."""
MIN_HEARTBEAT: Final = 0.1
"""The client heartbeat is sent at most this often, whatever the handshake asks."""
MAX_PORTS: Final = 64
"""More inputs or outputs than this is no tracker's: the value is garbage."""
MAX_PIECES: Final = 64
"""Atmosphere pieces read from one frame; a real one has a handful (hostile ones millions)."""
ATMOSPHERE_QUERY: Final = {
    "X-Atmosphere-tracking-id": "0",
    "X-Atmosphere-Framework": "2.3.6-javascript",
    "X-Atmosphere-Transport": "websocket",
    "Content-Type": "application/json",
    "X-atmo-protocol": "true",
}
SUBSCRIPTION: Final = {
    "type": "state_batch",
    "target": {"type": "all"},
    "rate_limit": "1s",
    "format": "full",
}
AUTH_CODES: Final = frozenset({3, 4, 102, 103, 104, 105})
"""Wrong/expired hash, wrong login, not activated, login limits."""
TRANSIENT_CODES: Final = frozenset({1, 2, 15})
"""Database error, service unavailable, rate limit: try again later."""
DATE_LENGTH: Final = 19
_HANDSHAKE = re.compile(r"(?P<uuid>[\w-]+)\|(?P<interval>\d{1,9})\|[^|]*\|", re.ASCII)
_ONLINE: Final[Mapping[str, bool]] = {
    "active": True,
    "idle": True,
    "signal_lost": False,
    "offline": False,
    "just_registered": False,  # added, has not sent anything yet
    "just_replaced": False,  # its device was replaced; the new one has not sent anything yet
}
_SUBSCRIPTION_BLOCKED: Final[Mapping[str, bool]] = {"normal": False, "blocked": True}
"""The subscribe reply's per-tracker statuses that say whether the tracker is blocked."""
_MODEL_CATEGORIES: Final[Mapping[str, Category]] = {
    "vehicle": Category.VEHICLE,
    "personal": Category.PERSONAL,
    "portable": Category.PORTABLE,
    "logger": Category.LOGGER,
}
"""tracker/list_models types."""
_VEHICLE_CATEGORIES: Final[Mapping[str, Category]] = {
    "car": Category.VEHICLE,
    "truck": Category.TRUCK,
    "bus": Category.BUS,
    "special": Category.VEHICLE,
}
"""vehicle/list types: what a tracker is fitted to says more than its model."""
_NAME_KEYS: Final = ("title", "legal_name")
"""user_info fields naming the account (a person's or an organisation's), best first."""


@dataclass(frozen=True, slots=True)
class TrackerModel:
    """What tracker/list_models says of one model code."""

    vendor: str | None
    name: str | None
    category: Category | None


class NavixyApiError(ProtocolError):
    """A REST reply with ``success: false``."""

    def __init__(self, code: Any, description: Any) -> None:
        """Keep the hub's code and description."""
        self.code: int | str | None = code if isinstance(code, int | str) else None
        self.description = description if isinstance(description, str) else "unknown error"
        super().__init__(f"Navixy error {self.code}: {self.description}")


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _flags(value: Any) -> tuple[bool, ...] | None:
    return _shared_flags(tuple(value)) if are_flags(value, MAX_PORTS) else None


@functools.lru_cache(maxsize=256)
def _shared_flags(flags: tuple[bool, ...]) -> tuple[bool, ...]:
    """One tuple for equal inputs or outputs: each tracker keeps its last (most are alike)."""
    return flags


@functools.lru_cache(maxsize=64)
def _shared_text(text: str) -> str:
    """One string for equal statuses ("active", "parked"): each tracker keeps its last."""
    return text


@functools.cache
def _tracker_channels(*, alarms: bool, geofences: bool) -> frozenset[str]:
    """One set per combination, shared by every tracker of every account."""
    channels = CHANNELS | {CHANNEL_ALARM} if alarms else CHANNELS
    return channels | {CHANNEL_GEOFENCE} if geofences else channels


def _online(value: Any) -> bool | None:
    return _ONLINE.get(value) if isinstance(value, str) else None


def _moving(value: Any) -> bool | None:
    return value == "moving" if isinstance(value, str) else None


type _Reader = tuple[tuple[str, Field, Callable[[Any], Value]], ...]

_STATE_FIELDS: _Reader = (
    ("connection_status", Field.ONLINE, _online),
    ("movement_status", Field.MOVING, _moving),
    ("ignition", Field.IGNITION, _flag),
    ("battery_level", Field.BATTERY, as_number),
    ("inputs", Field.INPUTS, _flags),
    ("outputs", Field.OUTPUTS, _flags),
)
_GPS_FIELDS: _Reader = (
    ("speed", Field.SPEED, as_number),
    ("alt", Field.ALTITUDE, as_number),
    ("signal_level", Field.GPS_SIGNAL, as_number),
)
_GSM_FIELDS: _Reader = (("signal_level", Field.GSM_SIGNAL, as_number),)


def _read_fields(source: Mapping[str, Any], fields: _Reader, values: dict[Field, Value]) -> None:
    """Convert the keys source has; a null or wrongly typed value becomes None."""
    for key, field, convert in fields:
        if key in source:
            values[field] = convert(source[key])


def _read_object(
    state: Mapping[str, Any], key: str, fields: _Reader, values: dict[Field, Value]
) -> None:
    """Read fields from a nested object; a null object reports them all as unknown."""
    if key not in state:
        return
    nested = state[key]
    if isinstance(nested, dict):
        _read_fields(nested, fields, values)
    else:
        values.update(dict.fromkeys((field for _, field, _ in fields), None))


def _model_code(item: Any) -> str | None:
    """The model code of a tracker/list item."""
    source = item.get("source") if isinstance(item, dict) else None
    code = source.get("model") if isinstance(source, dict) else None
    return code if isinstance(code, str) and code else None


def _tracker_model(item: Mapping[str, Any]) -> TrackerModel:
    """One list_models item: its vendor, name and the kind of tracker it is."""
    kind = item.get("type")
    return TrackerModel(
        vendor=as_text(item.get("vendor")),
        name=as_text(item.get("name")),
        category=_MODEL_CATEGORIES.get(kind) if isinstance(kind, str) else None,
    )


def _account_name(user: Mapping[str, Any]) -> str | None:
    """The account's name: its title, legal name, or first and last name (never the login)."""
    for key in _NAME_KEYS:
        if (name := as_text(user.get(key))) is not None:
            return name
    names = (as_text(user.get(key)) for key in ("first_name", "last_name"))
    return " ".join(name for name in names if name) or None


def websocket_url(base: str) -> str:
    """The event subscription URL of an API base, with the Atmosphere query string."""
    url = as_websocket(URL(f"{base.rstrip('/')}/event/subscription"))
    return str(url.with_query(ATMOSPHERE_QUERY))


class NavixyClient(HubClient):
    """One Navixy account: its trackers and their live states."""

    declaration = HubDeclaration(
        kind="navixy",
        name="Navixy",
        settings=(
            Setting("url", SettingType.URL, default=DEFAULT_URL, required=True, identity=True),
            Setting("api_key", SettingType.SECRET, credential=True),
            Setting("username", SettingType.TEXT, credential=True, identity=True),
            Setting("password", SettingType.SECRET, credential=True),
            Setting("verify_ssl", SettingType.FLAG, default=True, required=True),
        ),
        url_schemes=("http", "https"),
        sign_in=(("api_key",), ("username", "password")),
        options=(
            Setting(ALARMS_OPTION, SettingType.FLAG, default=False, required=True),
            Setting(
                ALARM_INTERVAL_OPTION,
                SettingType.MINUTES,
                default=ALARM_INTERVAL_MINUTES,
                required=True,
            ),
            Setting(ZONES_OPTION, SettingType.FLAG, default=False),
            Setting(GROUPS_OPTION, SettingType.NAMES, default=()),
        ),
        channels=(
            Channel(CHANNEL_LIFECYCLE, LIFECYCLE_EVENTS),
            Channel(CHANNEL_TRIP, TRIP_EVENTS),
            Channel(CHANNEL_ALARM, ALARM_EVENTS),
            Channel(CHANNEL_GEOFENCE, EVENT_TYPES),
        ),
        output_command="set_output",
        fields=frozenset(
            {
                Field.ONLINE,
                Field.MOVING,
                Field.IGNITION,
                Field.BATTERY,
                Field.INPUTS,
                Field.OUTPUTS,
                Field.SPEED,
                Field.ALTITUDE,
                Field.GPS_SIGNAL,
                Field.GSM_SIGNAL,
                Field.MILEAGE,
                Field.ENGINE_HOURS,
                Field.READINGS,
                Field.LAST_TRIP_DISTANCE,
            }
        ),
        positions=True,
    )
    keepalive_text = HEARTBEAT
    max_msg_size = 64 * 1024 * 1024
    """A full-format state_batch of thousands of trackers is several megabytes."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify_ssl: bool = True,
        import_groups: Collection[str] = (),
        alarms: bool = False,
        alarm_interval: float = ALARM_INTERVAL_MINUTES,
        timing: Timing | None = None,
    ) -> None:
        """Keep the settings; the handshake sets the keep-alive interval unless timing gives one.

        alarms: read the account's event history every alarm_interval minutes.
        """
        super().__init__(session, listener, timing=dataclasses.replace(timing) if timing else None)
        self.base_url = url.rstrip("/")
        """The API base every REST call and the event subscription start from."""
        self._api_key = api_key or None
        self.username = username
        self._password = password
        self.verify_ssl = verify_ssl
        """Whether the hub's TLS certificate is verified."""
        self._keepalive_given = self.timing.keepalive_interval
        self._handshake_heard: asyncio.Future[None] | None = None
        self._hash: str | None = None
        self._tz: tzinfo = UTC
        self._by_source: dict[int, int] = {}
        self._blocked: dict[int, bool] = {}
        self._waiting: dict[int, Any] = {}
        self._models: dict[str, TrackerModel | None] = {}
        """Model code -> what list_models said of it (None: the platform does not know it)."""
        self._vehicles: dict[int, Category] = {}
        """Tracker id -> the kind of vehicle it is fitted to (vehicle/list)."""
        self._geofences: tuple[Geofence, ...] | None = None
        """The account's geofences as last emitted (None: not loaded yet)."""
        self._zone_task: asyncio.Task[None] | None = None
        self._vehicle_avatars: dict[int, str] = {}
        """Tracker id -> its vehicle's avatar file name (vehicle/list)."""
        self._readings = ReadingsBook()
        self._grouping = Grouping()
        self.import_groups = frozenset(import_groups)
        """The groups and tags whose trackers are brought in (none: every tracker)."""
        self._trips = NavixyTrips(self)
        self._alarms = NavixyAlarms(self, enabled=alarms, minutes=alarm_interval)
        self._last_time: tuple[str, tzinfo, datetime | None] = ("", UTC, None)
        """The last date read, in which zone, and what it meant (a batch shares its seconds)."""

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "url", "api_key" or "username" + "password", and "verify_ssl"."""
        return {
            "url": config.get("url") or DEFAULT_URL,
            "api_key": config.get("api_key"),
            "username": config.get("username"),
            "password": config.get("password"),
            "verify_ssl": config.get("verify_ssl", True),
            "import_groups": config.get(GROUPS_OPTION) or (),
            **_alarm_options(config),
        }

    @override
    def offered(self, option: str) -> frozenset[str]:
        """The account's group titles and tag names, to choose the trackers to bring in."""
        return self._grouping.names() if option == GROUPS_OPTION else frozenset()

    @override
    def apply_options(self, options: Mapping[str, Any]) -> None:
        """Apply the groups to bring in (a new session) and the alarm options (a reload).

        Other groups or tags chosen: connect again, to list and subscribe to those. Alarms on or
        off: trackers get or lose their Alarm.
        """
        was_reading = self._alarms.enabled
        chosen = _alarm_options(options)
        self._alarms.configure(enabled=chosen["alarms"], minutes=chosen["alarm_interval"])
        groups = frozenset(options.get(GROUPS_OPTION) or ())
        if groups != self.import_groups:
            self.import_groups = groups
            if self.connected:
                self.end_session(CannotConnect("the groups to bring in changed"))
        elif self._alarms.enabled != was_reading and self.connected:
            self.schedule_fleet_reload()

    @property
    def _channels(self) -> frozenset[str]:
        """A tracker's channels: lifecycle, trips, alarms if read, geofences if any."""
        return _tracker_channels(alarms=self._alarms.enabled, geofences=bool(self._geofences))

    @property
    def time_zone(self) -> tzinfo:
        """The account's time zone, in which Navixy writes every date (UTC until known)."""
        return self._tz

    @classmethod
    def default_timing(cls) -> Timing:
        """Pings decide liveness; silence only for a server that never answers them."""
        return Timing(ws_heartbeat=WS_HEARTBEAT, silence_timeout=SILENCE_LIMIT)

    # --- connecting ---

    async def _establish(self) -> HubInfo:
        """Log in, load the account and its trackers, then subscribe to their states."""
        user = await self._authenticate()
        self._tz = await self._load_time_zone()
        geofences = await self._load_zones()  # first: a tracker's channels depend on them
        snapshot = await self._load_fleet()
        handshake = self._handshake_heard = asyncio.get_running_loop().create_future()
        await self.open_websocket(websocket_url(self.base_url), ssl=self.verify_ssl)
        self.emit(snapshot)
        if geofences is not None:
            self.emit(GeofenceList(geofences))
        await self._await_handshake(handshake)
        await self._subscribe()
        self._zone_task = asyncio.get_running_loop().create_task(
            self._reload_zones(), name="fleet_push navixy geofences"
        )
        self._trips.resume()
        self._alarms.start()
        return self._hub_info(user)

    @override
    async def close(self) -> None:
        """Stop reloading geofences and asking for trips and alarms; close the connection."""
        await cancel_and_wait(self._zone_task)
        self._zone_task = None
        await self._trips.close()
        await self._alarms.close()
        await super().close()

    # --- geofences ---

    async def _load_zones(self) -> tuple[Geofence, ...] | None:
        """The account's geofences if they changed since last asked (None: as they were).

        A platform that refuses zone/list (a sub-user without the right) keeps what it had.
        """
        items = await self._optional_list("zone/list", with_points=True)
        if items is None:
            return None
        await fill_points(items, lambda zone: self._optional_list("zone/point/list", zone_id=zone))
        geofences, unreadable = parse_zones(items)
        if unreadable:
            self.drop(Drop.MALFORMED, f"{unreadable} zone/list items")
        if geofences == (self._geofences or ()):  # none at first: nothing to say
            return None
        self._geofences = geofences
        return geofences

    async def _reload_zones(self) -> None:
        """Ask for the geofences again every RELOAD_INTERVAL s: Navixy pushes no changes."""
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            had = bool(self._geofences)
            try:
                geofences = await self._load_zones()
            except HubError as err:
                self.drop(Drop.REQUEST_FAILED, ("zone/list", type(err).__name__))
                continue
            if geofences is not None:
                self.emit(GeofenceList(geofences))
                if had != bool(geofences):
                    self.schedule_fleet_reload()  # the trackers gain or lose their channel

    async def _await_handshake(self, handshake: asyncio.Future[None]) -> None:
        """Wait for the handshake, after which the docs subscribe; a few seconds at most."""
        try:
            async with asyncio.timeout(HANDSHAKE_WAIT):
                await self._await_reply(handshake)
        except TimeoutError:
            _LOGGER.debug("navixy: no Atmosphere handshake in %g s, subscribing", HANDSHAKE_WAIT)

    async def _authenticate(self) -> Mapping[str, Any]:
        """Get a working hash (reusing a session) and return the account's user_info."""
        if self._api_key:
            self._hash = self._api_key
        elif self._hash is not None:
            try:
                return await self._user_info()
            except InvalidAuth:
                self._hash = None
        if self._hash is None:
            self._hash = await self._login()
        return await self._user_info()

    async def _login(self) -> str:
        """Trade login and password for a session hash."""
        if not (self.username and self._password):
            raise InvalidAuth("an API key or a login and password are needed")
        reply = await self._api("user/auth", login=self.username, password=self._password)
        token = reply.get("hash")
        if reply.get("type", "authenticated") != "authenticated":
            raise InvalidAuth("the account needs a second factor; use an API key instead")
        if not isinstance(token, str) or not token:
            raise ProtocolError("user/auth answered without a hash")
        return token

    async def _user_info(self) -> Mapping[str, Any]:
        info = (await self._api("user/get_info")).get("user_info")
        if not isinstance(info, dict) or not isinstance(info.get("id"), int | str):
            raise ProtocolError("user/get_info answered without a user id")
        return info

    async def _load_time_zone(self) -> tzinfo:
        """The user's time zone, in which Navixy writes every date; UTC if unknown."""
        try:
            settings = (await self._api("user/settings/get")).get("settings")
        except ProtocolError:
            return UTC
        name = settings.get("time_zone") if isinstance(settings, dict) else None
        if not isinstance(name, str):
            return UTC
        try:
            return ZoneInfo(name)
        except ZoneInfoNotFoundError, ValueError:
            return UTC

    async def _load_fleet(self) -> FleetSnapshot:
        """The tracker list, with who made each tracker and what it is fitted to."""
        reply = await self._api("tracker/list")
        if isinstance(items := reply.get("list"), list):  # else _load_trackers says so
            await self._learn_models({code for item in items if (code := _model_code(item))})
            self._vehicles = await self._load_vehicles()
            self._grouping = await self._load_grouping()
        return self._load_trackers(reply)

    async def _load_grouping(self) -> Grouping:
        """The account's groups and tags; as before when a list is refused."""
        groups = await self._optional_list("tracker/group/list")
        tags = await self._optional_list("tag/list")
        return Grouping(
            read_groups(groups) if groups is not None else self._grouping.groups,
            names_by_id(tags) if tags is not None else self._grouping.tags,
        )

    async def _learn_models(self, codes: Collection[str]) -> None:
        """Ask list_models about the codes not asked about yet (once: models do not change)."""
        unknown = sorted(code for code in codes if code not in self._models)
        if not unknown:
            return
        items = await self._optional_list("tracker/list_models", codes=unknown)
        if items is None:
            return  # asked again with the next tracker/list
        for item in items:
            if isinstance(item, dict) and isinstance(code := item.get("code"), str):
                self._models[code] = _tracker_model(item)
        for code in unknown:
            self._models.setdefault(code, None)  # not a model the platform lists

    async def _load_vehicles(self) -> dict[int, Category]:
        """The kind of vehicle each tracker is fitted to; as before when the list is refused."""
        items = await self._optional_list("vehicle/list")
        if items is None:
            return self._vehicles
        self._vehicle_avatars = vehicle_avatars(items)
        vehicles: dict[int, Category] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            tracker, kind = item.get("tracker_id"), item.get("type")
            if is_int(tracker) and isinstance(kind, str) and kind in _VEHICLE_CATEGORIES:
                vehicles[tracker] = _VEHICLE_CATEGORIES[kind]
        return vehicles

    async def _optional_list(self, path: str, **params: Any) -> list[Any] | None:
        """The list a call answers with; None when the platform refuses it or sends none.

        These calls only add to what FleetPush shows: a sub-user without the right, a rate
        limit or a slow answer must not keep the account from connecting.
        """
        try:
            items = (await self._api(path, **params)).get("list")
        except (ProtocolError, CannotConnect) as err:
            self.drop(Drop.REQUEST_FAILED, (path, type(err).__name__))
            return None
        if not isinstance(items, list):
            self.drop(Drop.MALFORMED, path)
            return None
        return items

    def _load_trackers(self, reply: Mapping[str, Any]) -> FleetSnapshot:
        """Map source ids to trackers and describe every tracker."""
        items = reply.get("list")
        if not isinstance(items, list):
            raise ProtocolError("tracker/list answered without a list")
        self._by_source.clear()
        self._blocked.clear()
        devices = []
        for item in items:
            if isinstance(item, dict) and not self._grouping.chosen(item, self.import_groups):
                continue  # in no group or tag chosen: not brought in
            device = self._tracker(item)
            if device is None:
                self.drop(Drop.MALFORMED, item)
            else:
                devices.append(device)
        self._trips.keep_only(self._blocked)
        return FleetSnapshot(tuple(devices))

    def _tracker(self, item: Any) -> DeviceUpdate | None:
        """One tracker/list item as a device, remembering its source id."""
        if not isinstance(item, dict) or not isinstance(source := item.get("source"), dict):
            return None
        tracker_id, source_id = item.get("id"), source.get("id")
        if not isinstance(tracker_id, int) or not isinstance(source_id, int):
            return None
        self._by_source[source_id] = tracker_id
        self._blocked[tracker_id] = source.get("blocked") is True
        label, serial, code = item.get("label"), source.get("device_id"), _model_code(item)
        model = self._models.get(code) if code else None
        return DeviceUpdate(
            str(tracker_id),
            DeviceDetails(
                name=label if isinstance(label, str) else None,
                manufacturer=model.vendor if model else None,
                model=model.name if model else None,
                model_id=code,
                serial=str(serial) if isinstance(serial, str | int) else None,
                category=self._category(tracker_id, model),
                picture=self._picture(tracker_id, item),
                group=self._grouping.title_of(item),
            ),
            extras=self._listing_extras(tracker_id, item),
            channels=self._channels,
        )

    def _listing_extras(self, tracker_id: int, item: Mapping[str, Any]) -> dict[str, Any]:
        """Blocked or not, its groupings and when its service ends."""
        return {"blocked": self._blocked[tracker_id], **self._grouping.extras(item)}

    def _picture(self, tracker_id: int, item: Mapping[str, Any]) -> str | None:
        """The tracker's avatar, else its vehicle's."""
        own = avatar_url(self.base_url, "tracker", item.get("avatar_file_name"))
        return own or avatar_url(self.base_url, "vehicle", self._vehicle_avatars.get(tracker_id))

    def _category(self, tracker_id: int, model: TrackerModel | None) -> Category:
        """What a tracker is: the vehicle it is fitted to, else its model's kind."""
        if (vehicle := self._vehicles.get(tracker_id)) is not None:
            return vehicle
        return model.category if model and model.category else Category.TRACKER

    def _hub_info(self, user: Mapping[str, Any]) -> HubInfo:
        host = URL(self.base_url).host
        return HubInfo(
            unique_id=f"{host}:{user['id']}",
            title=f"Navixy {_account_name(user) or host}",
            manufacturer=MANUFACTURER,
            model="Navixy account",
        )

    async def _subscribe(self) -> None:
        """Subscribe to the trackers' states and readings; the first batches follow the reply.

        A platform that refuses readings_batch (older than the docs) still gives states. With
        groups chosen, only the trackers brought in (Navixy's target "selected").
        """
        requests: list[Mapping[str, Any]] = [SUBSCRIPTION, READINGS_SUBSCRIPTION]
        if self.import_groups:
            selected = {"type": "selected", "tracker_ids": sorted(self._blocked)}
            requests = [{**request, "target": selected} for request in requests]
        try:
            await self._subscribe_to(requests)
        except ProtocolError as err:
            self.drop(Drop.REQUEST_FAILED, ("readings_batch", str(err)))
            await self._subscribe_to(requests[:1])

    async def _subscribe_to(self, requests: list[Mapping[str, Any]]) -> None:
        text = orjson.dumps(
            {"action": "subscribe", "hash": self._hash, "requests": requests}
        ).decode()
        try:
            reply = await self.request("subscribe", text, REQUEST_TIMEOUT)
        except HubTimeout as err:
            raise CannotConnect("Navixy did not answer the subscription") from err
        data = reply.get("data")
        if not isinstance(data, dict) or any(
            isinstance(entry, dict) and entry.get("success") is False for entry in data.values()
        ):
            raise ProtocolError("Navixy refused the subscription")

    # --- REST ---

    async def rest(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One REST call while connected (trips, alarms): its reply, or the HubError.

        A refusal of the credentials or a rate limit is no answer (InvalidAuth, CannotConnect).
        """
        return await self._api(path, **params)

    def parse_date(self, value: Any) -> datetime | None:
        """A Navixy date (the user's local time) as an aware UTC datetime."""
        return self._time(value)

    def format_date(self, when: datetime) -> str:
        """A datetime as Navixy reads dates: the user's local time."""
        return when.astimezone(self._tz).strftime("%Y-%m-%d %H:%M:%S")

    async def _api(self, path: str, **params: Any) -> dict[str, Any]:
        """Call the API while connecting; map its errors to the connection errors."""
        try:
            return await self._post(path, params, REQUEST_TIMEOUT)
        except HubTimeout as err:
            raise CannotConnect(str(err)) from err
        except NavixyApiError as err:
            if err.code in AUTH_CODES:
                raise InvalidAuth(f"Navixy refused the credentials ({err.code})") from err
            if err.code in TRANSIENT_CODES:
                raise CannotConnect(str(err)) from err
            raise

    async def _post(self, path: str, params: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """POST one API call (with the hash once there is one) and return its reply."""
        body = dict(params) if self._hash is None else {"hash": self._hash, **params}
        try:
            async with self._session.post(
                f"{self.base_url}/{path}",
                json=body,
                ssl=self.verify_ssl,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status, raw = response.status, await response.read()
        except TimeoutError as err:
            raise HubTimeout(f"Navixy did not answer {path} in time") from err
        except (aiohttp.ClientError, OSError) as err:
            raise CannotConnect(f"cannot reach Navixy: {type(err).__name__}") from err
        return self._reply(path, status, raw)

    @staticmethod
    def _reply(path: str, status: int, raw: bytes) -> dict[str, Any]:
        """Decode a REST reply; raise NavixyApiError for ``success: false``."""
        try:
            reply = decode(raw)
        except ValueError:
            if status >= 500 or status == 429:  # noqa: PLR2004 - HTTP statuses
                raise CannotConnect(f"Navixy answered {path} with HTTP {status}") from None
            raise ProtocolError(f"Navixy answered {path} with no JSON") from None
        if not isinstance(reply, dict):
            raise ProtocolError(f"Navixy answered {path} with no object")
        if reply.get("success") is not True:
            status_obj = reply.get("status")
            status_obj = status_obj if isinstance(status_obj, dict) else {}
            raise NavixyApiError(status_obj.get("code"), status_obj.get("description"))
        return reply

    # --- commands ---

    @property
    @override
    def ready(self) -> bool:
        """Connected, with a session hash for the REST commands."""
        return self._hash is not None and self.connected

    @override
    async def _command(self, command: Command) -> Any:
        """Run "set_output" (output, enable) or any tracker/send_command command."""
        device_id, parameters = command.device_id, command.parameters
        if not (device_id.isascii() and device_id.isdigit()):
            raise CommandFailed("not a Navixy tracker id", code=CommandCode.UNKNOWN_DEVICE)
        if command.name == "set_output":
            path, params = "tracker/output/set", self._output_params(parameters)
        else:
            path, params = "tracker/send_command", {"command": {"name": command.name, **parameters}}
        body = {"tracker_id": int(device_id), **params}
        try:
            reply = await self._post(path, body, command.timeout)
        except NavixyApiError as err:
            raise CommandFailed(err.description, code=err.code) from err
        except ProtocolError as err:
            raise CommandFailed(str(err)) from err
        reply.pop("success", None)
        return reply

    @staticmethod
    def _output_params(parameters: Mapping[str, Any]) -> dict[str, Any]:
        output, enable = parameters.get("output"), parameters.get("enable")
        if not isinstance(output, int) or isinstance(output, bool) or output < 1:
            raise CommandFailed(
                "set_output needs an output number from 1", code=CommandCode.BAD_PARAMETERS
            )
        if not isinstance(enable, bool):
            raise CommandFailed(
                "set_output needs enable true or false", code=CommandCode.BAD_PARAMETERS
            )
        return {"output": output, "enable": enable}

    # --- frames ---

    def handle_text(self, text: str) -> None:
        """Parse one frame: heartbeats, the Atmosphere handshake, JSON, or several joined."""
        rest = text.strip()
        for _ in range(MAX_PIECES):
            if not rest:
                return
            rest = self._consume(rest)
        if rest:
            self.drop(Drop.TOO_LARGE, len(rest))

    def _consume(self, text: str) -> str:
        """Handle the first Atmosphere piece of text; return what follows it."""
        if text.startswith(("{", "[")):
            try:
                value = decode(text)  # the whole text is one message (it may hold a "|")
            except ValueError:
                pass  # joined or length-prefixed pieces: read one by one
            else:
                if (frame := self.as_object(value, text)) is not None:
                    self._handle_frame(frame)
                return ""
        if (match := _HANDSHAKE.match(text)) is not None:
            self._handshake(int(match["interval"]))
            return text[match.end() :].strip()
        head, _, rest = text.partition("|")
        head = head.strip()
        if head and head != HEARTBEAT and not head.isdigit():  # digits: a length prefix
            frame = self.decode_object(head)
            if frame is not None:
                self._handle_frame(frame)
        return rest.strip()

    def _handshake(self, interval_ms: int) -> None:
        """The server is ready for the subscription; send the heartbeat it asks for (0: none).

        The interval is the client's heartbeat only: it says nothing of when the server talks.
        """
        interval = max(interval_ms / 1000, MIN_HEARTBEAT) if interval_ms else None
        self.timing.keepalive_interval = self._keepalive_given or interval
        if self._handshake_heard is not None and not self._handshake_heard.done():
            self._handshake_heard.set_result(None)

    def _handle_frame(self, frame: Mapping[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "event":
            self._handle_event(frame)
        elif kind == "response":
            self._handle_response(frame)
        elif kind == "error":
            self._handle_error(frame)
        else:
            self.drop(Drop.UNKNOWN_KIND, kind)

    def _handle_response(self, frame: Mapping[str, Any]) -> None:
        """The subscription's reply: to the waiting subscribe, and its trackers' statuses."""
        if frame.get("action") != "subscription/subscribe" or not self.resolve("subscribe", frame):
            self.drop(Drop.UNMATCHED_REPLY, frame.get("action"))
            return
        data = frame.get("data")
        for entry in data.values() if isinstance(data, dict) else ():
            if isinstance(entry, dict) and isinstance(statuses := entry.get("value"), dict):
                self._apply_statuses(statuses)

    def _apply_statuses(self, statuses: Mapping[Any, Any]) -> None:
        """Blocked or not, as the subscription saw each tracker (newer than tracker/list)."""
        for tracker, was_blocked in list(self._blocked.items()):
            status = statuses.get(str(tracker))
            blocked = _SUBSCRIPTION_BLOCKED.get(status) if isinstance(status, str) else None
            if blocked is not None and blocked != was_blocked:
                self._blocked[tracker] = blocked
                self.emit(DeviceUpdate(str(tracker), extras={"blocked": blocked}))

    def _handle_error(self, frame: Mapping[str, Any]) -> None:
        status = frame.get("status")
        code = status.get("code") if isinstance(status, dict) else None
        error: HubError
        if isinstance(code, int) and code in AUTH_CODES:
            error = InvalidAuth(f"Navixy refused the hash ({code})")
        else:
            error = ProtocolError(f"Navixy error {code}")
        if self.reject("subscribe", error):
            return
        if isinstance(error, InvalidAuth):
            raise error
        self.drop(Drop.HUB_ERROR, code)

    def _handle_event(self, frame: Mapping[str, Any]) -> None:
        event, data = frame.get("event"), frame.get("data")
        if event == "state":
            self._handle_state(data)
        elif event == "state_batch":
            if not isinstance(data, list):
                self.drop(Drop.MALFORMED, data)
                return
            for item in data:
                self._handle_state(item)
        elif event == "readings_batch":
            self._handle_readings(data)
        elif event == "lifecycle":
            self._handle_lifecycle(data)
        elif event == "logout":
            self._hash = None
            raise SessionClosed("Navixy closed the session")
        else:
            self.drop(Drop.UNKNOWN_KIND, event)

    # --- states ---

    def _handle_state(self, item: Any) -> None:
        """Emit one state, bare or wrapped in a source_state_event."""
        if not isinstance(item, dict):
            self.drop(Drop.MALFORMED, item)
            return
        state: Any = item
        tracker_id: Any = None
        if item.get("type") == "source_state_event":
            state, tracker_id = item.get("state"), item.get("tracker_id")
            if not isinstance(state, dict):
                self.drop(Drop.MALFORMED, item)
                return
        source_id = state.get("source_id")
        tracker = self._tracker_of(source_id)
        if tracker is None and isinstance(tracker_id, int) and tracker_id in self._blocked:
            tracker = tracker_id
        if tracker is None:
            self._wait_for_listing(source_id, item)
            return
        self.emit(self._state_update(tracker, state))
        self._trips.observe(tracker, state)

    def _wait_for_listing(self, source_id: Any, item: Any) -> None:
        """Keep a new tracker's state until tracker/list names it (reloaded at most every 30 s)."""
        if (
            not self.connected
            or not isinstance(source_id, int)
            or len(self._waiting) >= WAITING_LIMIT
        ):
            self.drop(Drop.UNKNOWN_DEVICE, source_id)
            return
        self._waiting[source_id] = item
        self.reload_fleet_soon()

    async def reload_fleet(self) -> None:
        """Reload the tracker list, then replay the states that were waiting for it."""
        self.emit(await self._load_fleet())
        waiting, self._waiting = self._waiting, {}
        for source_id, item in waiting.items():
            if self._tracker_of(source_id) is None:
                self.drop(Drop.UNKNOWN_DEVICE, source_id)
            else:
                self._handle_state(item)

    def _tracker_of(self, source_id: Any) -> int | None:
        """The tracker id of a source id, if it is one of ours."""
        return self._by_source.get(source_id) if isinstance(source_id, int) else None

    def _state_update(self, tracker: int, state: Mapping[str, Any]) -> DeviceUpdate:
        values: dict[Field, Value] = {}
        _read_fields(state, _STATE_FIELDS, values)
        _read_object(state, "gps", _GPS_FIELDS, values)
        _read_object(state, "gsm", _GSM_FIELDS, values)
        return DeviceUpdate(
            device_id=str(tracker),
            position=self._position(state.get("gps")),
            values=values,
            extras=self._extras(tracker, state),
        )

    def _extras(self, tracker: int, state: Mapping[str, Any]) -> dict[str, Any]:
        # No "last_update": a time that changes with every report would make every
        # report a state write.
        extras: dict[str, Any] = {"blocked": self._blocked[tracker]}
        for key in ("connection_status", "movement_status"):
            if isinstance(value := state.get(key), str):
                extras[key] = _shared_text(value)
        return extras

    def _position(self, gps: Any) -> Position | None:
        if not isinstance(gps, dict) or not isinstance(location := gps.get("location"), dict):
            return None
        return Position.checked(
            as_float(location.get("lat")),
            as_float(location.get("lng")),
            time=self._time(gps.get("updated")),
            speed=as_float(gps.get("speed")),
            heading=as_float(gps.get("heading")),
            altitude=as_float(gps.get("alt")),
            accuracy=as_float(gps.get("precision")),
        )

    def _time(self, value: Any) -> datetime | None:
        """A Navixy date (the user's local time) as an aware UTC datetime."""
        if not isinstance(value, str) or len(value) != DATE_LENGTH or value[10] != " ":
            return None
        text, zone, utc = self._last_time
        if value == text and zone is self._tz:
            return utc
        try:
            # "yyyy-MM-dd HH:mm:ss": fromisoformat reads it 30x faster than strptime.
            local = datetime.fromisoformat(value)
            utc = local.replace(tzinfo=self._tz).astimezone(UTC)
        except ValueError, OverflowError:  # OverflowError: beyond year 1 or 9999 in UTC
            utc = None
        self._last_time = (value, self._tz, utc)
        return utc

    # --- readings ---

    def _handle_readings(self, data: Any) -> None:
        """Counters and sensors of each tracker a readings_batch names (by tracker id)."""
        if not isinstance(data, list):
            self.drop(Drop.MALFORMED, data)
            return
        for batch in data:
            if not isinstance(batch, dict):
                self.drop(Drop.MALFORMED, batch)
                continue
            for key, item in batch.items():
                tracker = int(key) if isinstance(key, str) and key.isdecimal() else None
                if tracker is None or tracker not in self._blocked or not isinstance(item, dict):
                    self.drop(Drop.UNKNOWN_DEVICE, key)
                elif values := self._readings.update(tracker, item):
                    self.emit(DeviceUpdate(str(tracker), values=values))

    # --- lifecycle ---

    def _handle_lifecycle(self, data: Any) -> None:
        """Blocked, unblocked or removed trackers."""
        event = data.get("lifecycle_event") if isinstance(data, dict) else None
        if not isinstance(event, str) or event not in LIFECYCLE_EVENTS:
            self.drop(Drop.MALFORMED, data)
            return
        source_id = data.get("source_id")
        tracker = self._tracker_of(source_id)
        if tracker is None:
            self.drop(Drop.UNKNOWN_DEVICE, source_id)
            return
        device_id = str(tracker)
        self.emit(HubNotice(CHANNEL_LIFECYCLE, event, device_id=device_id))
        if event == "corrupt":
            self._by_source.pop(data["source_id"])
            del self._blocked[tracker]
            self._readings.forget(tracker)
            self.emit(DeviceRemoved(device_id))
            return
        self._blocked[tracker] = event == "block"
        self.emit(DeviceUpdate(device_id, extras={"blocked": self._blocked[tracker]}))


def _alarm_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Whether to read alarms, and every how many minutes (the default when unusable)."""
    minutes = options.get(ALARM_INTERVAL_OPTION)
    if not is_number(minutes) or not 0 < minutes < math.inf:
        minutes = ALARM_INTERVAL_MINUTES
    return {"alarms": options.get(ALARMS_OPTION) is True, "alarm_interval": float(minutes)}


CLIENT = NavixyClient
