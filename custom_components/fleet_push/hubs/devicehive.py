"""DeviceHive (DataArt): one JSON WebSocket for authentication, requests and pushes.

The configured URL is the WebSocket itself (``wss://host/api/websocket``). The client signs in
with an access JWT, a refresh JWT (``token/refresh``) or a login (``token``), pages through
``device/list`` (servers answer 20 devices unless asked for more), subscribes to every device's
notifications and fetches what it missed while away with ``notification/list``. Notification
parameters follow FleetPush's convention: ``lat``/``lng`` (or ``latitude``/``longitude``),
``accuracy``, ``speed``, ``heading``, ``altitude``, ``battery``, and for trips ``ignition`` (or
``moving``) and ``mileage`` (km). A notification becomes an event
(its name the event type) when it carries more than that, or when the user chose its name.

What the Java server does, and what FleetPush does about it:

- A session stays authorized after its access token expires (the server checks the token only
  when authenticating): the socket is kept. Tokens are renewed before they expire where a refresh
  token or a login allows it; a refused renewal leaves the open session alone, and the next
  connection's sign-in decides whether to ask for new credentials.
- Device records have had no ``status`` since 2017. A device is online while it has sent a
  notification or updated a command within the "offline after" period, offline once FleetPush
  has listened that long without hearing from it. An old server's ``status`` wins over that
  judgement; a blocked device (``isBlocked``) is offline whatever it says.
- Notifications are kept for two minutes (a cache); ``notification/subscribe`` with a timestamp
  replays at most 100 of them, in no order, and none at all to a subscription for every device.
  After every (re)connection the client therefore holds live pushes back, fetches everything
  since its cursor with ``notification/list`` (paged by device and by time), and delivers the
  lot once, in time order. The cursor is the server's clock (from ``server/info``), never a
  device's: devices may date their notifications as they like.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import (
    Awaitable,
    Collection,
    Coroutine,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
)
import contextlib
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
import logging
import math
import time
from typing import Any, ClassVar, Final, override

import aiohttp
import orjson
from yarl import URL

from .connection import (
    REQUEST_TIMEOUT,
    Drop,
    HubClient,
    Listener,
    Timing,
    cancel_and_wait,
    within,
)
from .declaration import GROUPS_OPTION, Channel, HubDeclaration, Setting, SettingType
from .derived_trips import TripDeriver
from .devicehive_groups import DEVICE_TYPES, NAMES_TAKE, NETWORKS, Grouping
from .devicehive_history import (
    CURSOR_MARGIN,
    NOTIFICATION_PAGE,
    Delivered,
    Notification,
    chunks,
    is_notification,
    list_fields,
    parse_time,
    server_stamp,
    split_time,
    time_of,
)
from .devicehive_presence import Presence
from .devicehive_tokens import (
    TokenType,
    refuses_credentials,
    token_expiry,
    token_subject,
    token_type,
)
from .errors import (
    CannotConnect,
    CommandCode,
    CommandFailed,
    HubError,
    HubTimeout,
    InvalidAuth,
    ProtocolError,
)
from .model import (
    Category,
    Command,
    DeviceDetails,
    DeviceRemoved,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubMessage,
    HubNotice,
    Position,
    Value,
)
from .trips import CHANNEL_TRIP, TRIP_EVENTS
from .urls import as_websocket
from .values import is_int, is_number, names_by_id

_LOGGER = logging.getLogger(__name__)

MANUFACTURER: Final = "DataArt"
CHANNEL: Final = "notification"
CHANNELS: Final = frozenset({CHANNEL})
DRIVER_CHANNELS: Final = frozenset({CHANNEL, CHANNEL_TRIP})
"""A device that reports its ignition also has trips."""
MAX_TEXT: Final = 10 * 1024
"""The server's largest text message (WEBSOCKET_MAX_BUFFER_SIZE)."""
ACCESS_LIFETIME: Final = 30 * 60.0
"""Access token lifetime when the token does not say (jwt.access-token-max-age)."""
RENEW_MARGIN: Final = 60.0
MIN_RENEW_DELAY: Final = 0.5
RENEW_RETRY: Final = 30.0
EXPIRY_GRACE: Final = 1.0
"""Seconds after a token's expiry before asking whether the server still takes the session."""
OFFLINE_AFTER_OPTION: Final = "offline_after"
OFFLINE_AFTER_MINUTES: Final = 15
"""Default minutes without a notification after which a device is shown offline."""
EVENTS_OPTION: Final = "notification_events"
"""The notification names that become events; none chosen: those that carry more than
entities show."""
MEASURED: Final = frozenset(
    {
        "lat",
        "lng",
        "lon",
        "latitude",
        "longitude",
        "accuracy",
        "speed",
        "heading",
        "altitude",
        "battery",
        "ignition",
        "moving",
        "mileage",
    }
)
"""Notification parameters that entities show (a position, a battery level)."""
MAX_NAME: Final = 128
"""The server's longest notification name: a longer one is no event type."""
MAX_SEEN_NAMES: Final = 100
"""Notification names remembered to offer in the options."""
DEVICE_PAGE: Final = 100
"""Devices asked for per device/list page (the server's default is 20; its REST API's 100)."""
MAX_DEVICE_PAGES: Final = 10_000
LIST_CONCURRENCY: Final = 4
MIN_TICK: Final = 0.05
MAX_TICK: Final = 30.0
KEPT_UPDATES: Final = 64
"""Command updates kept for commands whose insert reply is still on its way."""
DEVICE_EVENTS: Final = frozenset({"$device-add", "$device-update"})
"""Server-originated notifications whose parameters are the device itself."""
PENDING_STATUSES: Final = frozenset(
    {"", "pending", "queued", "sent", "received", "accepted", "in progress", "inprogress"}
)
FAILED_STATUSES: Final = frozenset(
    {"failed", "fail", "failure", "error", "rejected", "timeout", "expired", "cancelled"}
)
SIGN_IN_ACTIONS: Final = frozenset({"authenticate", "token", "token/refresh"})
_ACCESS_REFUSED: Final = frozenset({401, 403})
"""Error codes of a handshake request that mean the credentials do not grant access."""
MAX_DIGITS: Final = 18
"""Longest numeric id read from a string (int() refuses more than 4300 digits)."""


class DeviceHiveClient(HubClient):
    """A client session on a DeviceHive server's WebSocket API."""

    declaration = HubDeclaration(
        kind="devicehive",
        name="DeviceHive",
        settings=(
            Setting("url", SettingType.URL, required=True, identity=True),
            Setting("token", SettingType.SECRET, credential=True),
            Setting("username", SettingType.TEXT, credential=True, identity=True),
            Setting("password", SettingType.SECRET, credential=True),
            Setting("verify_ssl", SettingType.FLAG, default=True, required=True),
        ),
        url_schemes=("ws", "wss"),
        sign_in=(("token",), ("username", "password")),
        options=(
            Setting(
                OFFLINE_AFTER_OPTION, SettingType.MINUTES, OFFLINE_AFTER_MINUTES, required=True
            ),
            Setting(EVENTS_OPTION, SettingType.NAMES, default=()),
            Setting(GROUPS_OPTION, SettingType.NAMES, default=()),
        ),
        channels=(Channel(CHANNEL, chosen_by=EVENTS_OPTION), Channel(CHANNEL_TRIP, TRIP_EVENTS)),
        fields=frozenset({Field.ONLINE, Field.BATTERY, Field.LAST_TRIP_DISTANCE}),
        positions=True,
    )
    fleet_reload_interval = 600.0
    """DeviceHive announces no deletions: the device list is reloaded every ten minutes."""
    request_timeout: ClassVar[float] = REQUEST_TIMEOUT

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        url: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify_ssl: bool = True,
        offline_after: float = OFFLINE_AFTER_MINUTES * 60.0,
        notification_events: Collection[str] | None = None,
        import_groups: Collection[str] = (),
        timing: Timing | None = None,
    ) -> None:
        """Keep the settings; nothing is opened until connect().

        notification_events: the notification names that become events (none: every one that
        carries more than a position and a battery level).
        """
        super().__init__(session, listener, timing=timing)
        if not token and not (username and password):
            raise ValueError("DeviceHive needs a token, or a username and a password")
        self.url = _websocket_url(url)
        """The server's WebSocket API."""
        self._token = token
        self._login = (username, password) if username and password else None
        self.verify_ssl = verify_ssl
        """Whether the hub's TLS certificate is verified."""
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._renew_at = 0.0
        self._renewal: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._established = False
        self._next_id = 0
        self._inflight: dict[str, str] = {}
        self._command_lock = asyncio.Lock()
        self._commands_subscribed = False
        self._grouping = Grouping()
        """The server's networks and device types (names for the records' ids)."""
        self._updates: OrderedDict[int, Mapping[str, Any]] = OrderedDict()
        self._presence = Presence(offline_after)
        self._trips = TripDeriver(lambda: self.memory)
        self._presence_learned = False
        self._delivered = Delivered()
        self._offset = 0.0
        """The server's clock minus this machine's, in seconds (from server/info)."""
        self._cursor: float | None = None
        """Server time from which missed notifications are fetched after a reconnect."""
        self._held: list[tuple[Notification, float]] | None = None
        """Pushes held back (with their arrival) while a catch-up runs; None: none runs."""
        self._one_device_lists = False
        """The server takes one deviceId per notification/list (before 3.4)."""
        self._list_slots = asyncio.Semaphore(LIST_CONCURRENCY)
        self._event_names = _event_names(notification_events)
        self.notification_names: set[str] = set()
        """Names of the notifications heard (the first MAX_SEEN_NAMES), for the user to choose."""
        self.import_groups = frozenset(import_groups)
        """The networks whose devices are brought in (none: every device)."""
        self._left_out: set[str] = set()
        """Devices of other networks (their notifications, if any come, are passed over)."""

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "url", "token" or "username" + "password", "verify_ssl" and "offline_after"."""
        return {
            "url": config["url"],
            "token": config.get("token"),
            "username": config.get("username"),
            "password": config.get("password"),
            "verify_ssl": config.get("verify_ssl", True),
            "offline_after": _offline_after(config),
            "notification_events": config.get(EVENTS_OPTION),
            "import_groups": config.get(GROUPS_OPTION) or (),
        }

    @property
    def username(self) -> str | None:
        """The login signed in with, if a login (not a token) was given."""
        return self._login[0] if self._login is not None else None

    @property
    def offline_after(self) -> float:
        """Seconds without a sign of life after which a device is shown offline."""
        return self._presence.offline_after

    @property
    def notification_events(self) -> frozenset[str] | None:
        """The notification names chosen as events; None: those that say more than values."""
        return self._event_names

    @property
    def clock_offset(self) -> float:
        """The server's clock minus this machine's, in seconds (from server/info)."""
        return self._offset

    @property
    def cursor(self) -> float | None:
        """The server time from which the next connection fetches what it missed."""
        return self._cursor

    @property
    def catching_up(self) -> bool:
        """Whether notifications missed while away are being fetched (live ones wait)."""
        return self._held is not None

    @property
    def held_back(self) -> int:
        """How many live notifications wait for the catch-up, to go out in time order."""
        return len(self._held or ())

    @override
    def offered(self, option: str) -> frozenset[str]:
        """The notification names heard so far, to choose the events from."""
        if option == GROUPS_OPTION:
            return frozenset(self._grouping.networks.values())
        return frozenset(self.notification_names) if option == EVENTS_OPTION else frozenset()

    @override
    def apply_options(self, options: Mapping[str, Any]) -> None:
        """A new "offline after" period applies from the next check on, new events at once."""
        self._presence.offline_after = _offline_after(options)
        self._event_names = _event_names(options.get(EVENTS_OPTION))
        chosen = frozenset(options.get(GROUPS_OPTION) or ())
        if chosen != self.import_groups:  # list and subscribe to the chosen networks again
            self.import_groups = chosen
            if self.connected:
                self.end_session(CannotConnect("the networks to bring in changed"))

    @classmethod
    def default_timing(cls) -> Timing:
        """WebSocket pings every minute; an idle DeviceHive sends nothing else."""
        return Timing(ws_heartbeat=60.0)

    # --- connecting ---

    async def _establish(self) -> HubInfo:
        """Sign in, load the server info and the devices, then subscribe and catch up."""
        await self.open_websocket(str(self.url), ssl=self.verify_ssl)
        try:
            await self._sign_in()
            info = await self._server_info()
            await self._load_fleet(learn=not self._presence_learned)
            if self._held is None:
                self._held = []  # from the subscription on, until the catch-up is done
            await self._subscribe_notifications()
            await self._follow_commands()
        except HubTimeout as err:
            raise CannotConnect("the DeviceHive server did not answer in time") from err
        except CommandFailed as err:
            if err.code in _ACCESS_REFUSED:  # the token lacks a permission: reauthenticate
                raise InvalidAuth(f"DeviceHive refused access: {err}") from err
            raise ProtocolError(f"DeviceHive refused the handshake: {err}") from err
        self._established = True
        self._presence.listening_since = time.time()
        self._schedule_renewal(self._renew_delay())
        self._spawn(self._watch_presence(), "presence")
        self._spawn(self._catch_up(), "catch-up")
        return info

    async def _sign_in(self) -> None:
        """Get an access token for the configured credentials and authenticate with it."""
        token = self._token
        kind = token_type(token) if token is not None else None
        if token is not None and kind is not TokenType.REFRESH:
            self._use_access(token)
            try:
                await self._authenticate()
            except InvalidAuth:
                if kind is TokenType.ACCESS:
                    raise  # without a type claim it may be a refresh token: try that
            else:
                return
        self._refresh_token = token  # None with a login: the `token` action gives one
        await self._renew_tokens()
        await self._authenticate()

    async def _renew_tokens(self) -> None:
        """Get a new access token: token/refresh when possible, else the login."""
        if self._refresh_token is not None:
            reply = await self._call("token/refresh", {"refreshToken": self._refresh_token})
        elif self._login is not None:
            login, password = self._login
            reply = await self._call("token", {"login": login, "password": password})
            refresh = reply.get("refreshToken")
            self._refresh_token = refresh if isinstance(refresh, str) and refresh else None
        else:
            raise InvalidAuth("a DeviceHive access token cannot be renewed")
        access = reply.get("accessToken")
        if not isinstance(access, str) or not access:
            raise ProtocolError("DeviceHive sent no access token")
        self._use_access(access)

    def _use_access(self, token: str) -> None:
        self._access = token
        expires = token_expiry(token)
        remaining = expires - time.time() if expires is not None else ACCESS_LIFETIME
        if remaining <= 0:  # a skewed clock, or already expired: the server will say
            remaining = ACCESS_LIFETIME
        self._renew_at = asyncio.get_running_loop().time() + remaining

    async def _authenticate(self) -> None:
        await self._call("authenticate", {"token": self._access})

    async def _server_info(self) -> HubInfo:
        sent = time.time()
        reply = await self._call("server/info")
        received = time.time()
        info = reply.get("info")
        if not isinstance(info, dict):
            raise ProtocolError("DeviceHive sent no server info")
        stamp = info.get("serverTimestamp")
        when = parse_time(stamp) if isinstance(stamp, str) else None
        if when is not None:
            self._offset = when.timestamp() - (sent + received) / 2
        if self._cursor is None:  # the first connection: nothing was missed before it
            self._cursor = received + self._offset
        version = info.get("apiVersion")
        host = self.url.host or ""
        return HubInfo(
            unique_id=f"{self._authority()}:{self._account()}",
            title=f"DeviceHive {host}",
            manufacturer=MANUFACTURER,
            model="DeviceHive",
            version=version if isinstance(version, str) else None,
        )

    def _authority(self) -> str:
        """The server's host, with the port when the URL names one."""
        url = self.url
        return f"{url.host}:{url.explicit_port}" if url.explicit_port else str(url.host)

    def _account(self) -> str:
        """The user the session belongs to: the same for a login and for its tokens."""
        subject = token_subject(self._access) if self._access else None
        if subject is not None:
            return subject
        return self.username or "token"

    async def _subscribe_notifications(self) -> None:
        """Subscribe to every device, from the cursor (a server may replay some)."""
        stamp = server_stamp(self._cursor) if self._cursor is not None else None
        fields: dict[str, Any] = {"timestamp": stamp} if stamp else {}
        if self.import_groups and (networks := self._chosen_network_ids()):
            fields["networkIds"] = networks  # only the chosen networks' notifications
        await self._call("notification/subscribe", fields)

    async def _follow_commands(self) -> None:
        """Subscribe to command updates: a device that updates a command is online."""
        try:
            await self._subscribe_command_updates()
        except CommandFailed as err:
            self.drop(
                Drop.REQUEST_FAILED, ("command/subscribe", err.code)
            )  # commands will ask again

    # --- the fleet ---

    async def reload_fleet(self) -> None:
        """Load the device list again: DeviceHive announces no deletions."""
        await self._load_fleet()

    async def _load_fleet(self, *, learn: bool = False) -> None:
        """Page through device/list; the snapshot is complete only when the count confirms it.

        learn: first ask who notified lately, so that the fleet shows up with its Online.
        """
        self._grouping = await self._load_grouping()
        before = await self._count_devices()
        records, pages, ran_out = await self._list_devices(before)
        after = await self._count_devices() if pages > 1 else before
        # Without a count, only one page read in one go is sure to be the whole fleet.
        complete = pages <= 1 and ran_out if before is None else before == after == len(records)
        records = self._brought_in(records)
        if learn:
            await self._learn_presence(list(records))
        now = time.time()
        updates = tuple(self._record_update(key, record, now) for key, record in records.items())
        if complete:
            self._presence.forget_all_but(records)
        self.emit(FleetSnapshot(updates, complete=complete))

    def _brought_in(self, records: dict[str, Any]) -> dict[str, Any]:
        """The records of devices in the chosen networks; the others are noted as left out."""
        if not self.import_groups:
            self._left_out.clear()
            return records
        kept = {
            device_id: record
            for device_id, record in records.items()
            if self._grouping.network_of(record) in self.import_groups
        }
        self._left_out = set(records) - set(kept)
        return kept

    def _chosen_network_ids(self) -> list[int]:
        """The ids of the chosen networks, as the server lists them."""
        networks = self._grouping.networks
        return sorted(key for key, name in networks.items() if name in self.import_groups)

    async def _load_grouping(self) -> Grouping:
        """The server's networks and device types; as before when a list is refused."""
        networks = await self._optional_names(*NETWORKS)
        device_types = await self._optional_names(*DEVICE_TYPES)
        return Grouping(
            self._grouping.networks if networks is None else networks,
            self._grouping.device_types if device_types is None else device_types,
        )

    async def _optional_names(self, action: str, key: str) -> dict[int, str] | None:
        """The names a list gives by id; None when refused (a token without the right).

        They only add to what is shown: a refusal never keeps the server from connecting.
        """
        try:
            items = (await self._call(action, {"take": NAMES_TAKE})).get(key)
        except (CommandFailed, HubTimeout) as err:
            self.drop(Drop.REQUEST_FAILED, (action, type(err).__name__))
            return None
        if not isinstance(items, list):
            self.drop(Drop.MALFORMED, action)
            return None
        return names_by_id(items)

    async def _count_devices(self) -> int | None:
        """device/count, or None where the server has none (before 3.4.5)."""
        try:
            reply = await self._call("device/count")
        except CommandFailed as err:
            if err.code in _ACCESS_REFUSED:
                raise
            return None
        count = reply.get("count")
        return count if is_int(count) and count >= 0 else None

    async def _list_devices(self, expected: int | None) -> tuple[dict[str, Any], int, bool]:
        """Every device record by id, the pages it took, and whether the list ran out."""
        records: dict[str, Any] = {}
        pages = skip = 0
        while pages < MAX_DEVICE_PAGES and (expected is None or skip < expected):
            fields = {"take": DEVICE_PAGE, "skip": skip, "sortField": "name", "sortOrder": "ASC"}
            items = (await self._call("device/list", fields)).get("devices")
            if not isinstance(items, list):
                raise ProtocolError("DeviceHive sent no device list")
            if not items:
                return records, pages, True
            known = len(records)
            records.update(self._valid_records(items))
            pages += 1
            skip += len(items)
            if len(records) == known:
                return records, pages, False  # a server that ignores skip
        return records, pages, expected is not None

    def _valid_records(self, items: list[Any]) -> Iterable[tuple[str, Any]]:
        for item in items:
            device_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(device_id, str) and device_id:
                yield device_id, item
            else:
                self.drop(Drop.MALFORMED, item)

    def _record_update(self, device_id: str, record: Mapping[str, Any], now: float) -> DeviceUpdate:
        """A device record (device/list, $device-add, $device-update) as an update."""
        online = self._presence.record(device_id, record, now)
        extras = {
            key: record[key]
            for key in ("networkId", "isBlocked")
            if isinstance(record.get(key), int | str | bool)
        }
        name = record.get("name")
        return DeviceUpdate(
            device_id,
            DeviceDetails(
                name=name if isinstance(name, str) and name else None,
                category=Category.TRACKER,  # shown once it notifies a position
                group=self._grouping.network_of(record),
            ),
            values={Field.ONLINE: online},
            extras={**extras, **self._grouping.extras(record)},
            channels=self._channels(device_id),
        )

    # --- presence ---

    async def _watch_presence(self) -> None:
        """Turn devices offline when their period passes; forget what no catch-up needs."""
        while True:
            presence = self._presence
            await asyncio.sleep(min(max(presence.offline_after / 10, MIN_TICK), MAX_TICK))
            for device_id, online in presence.changes(time.time()):
                channels = self._channels(device_id)
                self.emit(DeviceUpdate(device_id, values={Field.ONLINE: online}, channels=channels))
            self._delivered.forget_before(self._cursor if self._cursor is not None else -math.inf)

    def _note_activity(self, device_id: str, server_time: float | None, arrival: float) -> bool:
        """Note a device's activity (a server time, at most its arrival); True: now online."""
        when = arrival if server_time is None else min(server_time - self._offset, arrival)
        return self._presence.heard(device_id, when, time.time())

    async def _learn_presence(self, devices: list[str]) -> None:
        """Ask which devices notified within the offline period (once: the server keeps little)."""
        start = time.time() + self._offset - self._presence.offline_after
        try:
            found = await self._fetch_since(devices, start, every=False)
        except (CommandFailed, HubTimeout, ProtocolError) as err:
            self.drop(Drop.REQUEST_FAILED, ("presence", type(err).__name__))
            return
        arrival = time.time()
        asked = set(devices)
        for item in found:
            if item["deviceId"] in asked:
                stamp = item.get("timestamp")
                when = parse_time(stamp) if isinstance(stamp, str) else None
                self._note_activity(item["deviceId"], when.timestamp() if when else None, arrival)
        self._presence_learned = True

    def _channels(self, device_id: str) -> frozenset[str]:
        """A device's channels: notifications, and trips once it reported its ignition."""
        return DRIVER_CHANNELS if self._trips.follows(device_id) else CHANNELS

    def _emit_online(self, device_id: str) -> None:
        channels = self._channels(device_id)
        self.emit(DeviceUpdate(device_id, values={Field.ONLINE: True}, channels=channels))

    # --- catching up ---

    async def _catch_up(self) -> None:
        """Deliver what was missed since the cursor with what came meanwhile, in time order."""
        devices = self._presence.devices()
        start = self._cursor if self._cursor is not None else time.time() + self._offset
        missed: list[Notification] = []
        try:
            missed = await self._fetch_since(devices, start, every=True)
        except CannotConnect as err:
            self.drop(Drop.INTERRUPTED, ("catch-up", type(err).__name__))
            return  # the next connection fetches it all again
        except HubError as err:
            self.drop(Drop.REQUEST_FAILED, ("catch-up", type(err).__name__))
        self._release(missed)

    def _release(self, missed: list[Notification]) -> None:
        """Deliver the fetched and the held notifications once each, oldest first."""
        arrival = time.time()
        entries = [(item, arrival) for item in missed] + (self._held or [])
        self._held = None
        entries.sort(key=lambda entry: time_of(entry[0]))
        for item, arrived in entries:
            self._deliver(item, arrived)

    async def _fetch_since(
        self, devices: list[str], start: float, *, every: bool
    ) -> list[Notification]:
        """Notifications of these devices at or after `start` (server time).

        every: all of them; otherwise at least one of each device that has any.
        """
        return await self._each(
            [self._fetch(chunk, start, None, every=every) for chunk in chunks(devices)]
        )

    async def _fetch(
        self, devices: list[str], start: float, end: float | None, *, every: bool
    ) -> list[Notification]:
        """One notification/list, split by devices, then by time, while a page comes back full.

        A full page may be any of the matching notifications (the cache limits before it sorts),
        so only a page with room to spare is known to hold them all.
        """
        several = len(devices) > 1
        page = (
            None
            if several and self._one_device_lists
            else await self._list_page(devices, start, end)
        )
        if page is None:  # the server takes one device per request: ask each
            return await self._each(
                [self._fetch([one], start, end, every=every) for one in devices]
            )
        if len(page) < NOTIFICATION_PAGE or not (several or every):
            return page
        if several:
            half = len(devices) // 2
            parts = [devices[:half], devices[half:]]
            return await self._each([self._fetch(part, start, end, every=every) for part in parts])
        middle = split_time(page, start, end)
        if middle is None:  # over a page within one millisecond: keep what came
            self.drop(Drop.TOO_LARGE, ("catch-up", devices[0]))
            return page
        windows = [(start, middle), (middle, end)]
        return await self._each([self._fetch(devices, a, b, every=every) for a, b in windows])

    async def _list_page(
        self, devices: list[str], start: float, end: float | None
    ) -> list[Notification] | None:
        """One notification/list request; None when the server takes one device at a time."""
        while devices:
            fields = list_fields(devices, start, end)
            try:
                async with self._list_slots:
                    reply = await self._call("notification/list", fields)
            except CommandFailed as err:
                if err.code == HTTPStatus.NOT_FOUND:  # the first device is gone: ask without it
                    devices = devices[1:]
                    continue
                if err.code == HTTPStatus.BAD_REQUEST and len(devices) > 1:
                    self._one_device_lists = True  # "deviceIds" is unknown: deviceId is missing
                    return None
                raise
            items = reply.get("notifications")
            if not isinstance(items, list):
                raise ProtocolError("DeviceHive sent no notification list")
            return self._valid_notifications(items)
        return []

    def _valid_notifications(self, items: list[Any]) -> list[Notification]:
        valid = []
        for item in items:
            if is_notification(item):
                valid.append(item)
            else:
                self.drop(Drop.MALFORMED, item)
        return valid

    async def _each(self, calls: list[Awaitable[list[Notification]]]) -> list[Notification]:
        """Run fetches side by side (the list slots limit them); one failing stops the rest."""
        tasks = [asyncio.ensure_future(call) for call in calls]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [item for part in parts for item in part]

    # --- token renewal ---

    def _renew_delay(self) -> float:
        remaining = self._renew_at - asyncio.get_running_loop().time()
        return max(remaining - min(RENEW_MARGIN, remaining / 5), MIN_RENEW_DELAY)

    def _schedule_renewal(self, delay: float) -> None:
        """Renew before the access token expires, where a refresh token or a login allows it.

        A plain access token is kept (the server does not end a session when it expires); once
        it has expired, the server is asked whether it still takes the session.
        """
        if self._refresh_token is not None or self._login is not None:
            self._start_token_work(self._renew_later(delay))
        else:
            self._start_token_work(self._check_after_expiry())

    def _start_token_work(self, work: Coroutine[Any, Any, None]) -> None:
        self._renewal = asyncio.get_running_loop().create_task(
            work, name="fleet_push devicehive token renewal"
        )

    async def _renew_later(self, delay: float) -> None:
        """Renew the access token and authenticate again on the same socket."""
        await asyncio.sleep(delay)
        try:
            await self._renew_tokens()
            await self._authenticate()
        except InvalidAuth:
            _LOGGER.debug("devicehive: the access token was not renewed; the session goes on")
            self._start_token_work(self._check_after_expiry())
            return  # the next connection's sign-in decides
        except CannotConnect:
            return  # the read loop ends with the reason
        except HubError as err:
            _LOGGER.debug("devicehive: token renewal failed (%s), retrying", type(err).__name__)
            self._schedule_renewal(min(RENEW_RETRY, self._renew_delay()))
            return
        self._schedule_renewal(self._renew_delay())

    async def _check_after_expiry(self) -> None:
        """Once the server thinks the token expired, make a request that needs the session.

        The Java server answers it; a server that checks tokens on every request answers 401,
        which ends the session (_on_error): the reconnect's sign-in then decides.
        """
        remaining = self._renew_at - asyncio.get_running_loop().time() - self._offset
        await asyncio.sleep(max(remaining, 0.0) + EXPIRY_GRACE)
        with contextlib.suppress(HubError):  # a lost connection ends the read loop anyway
            await self._call("device/list", {"take": 1})

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"fleet_push devicehive {name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Stop renewing tokens, watching and catching up; close the connection."""
        self._established = False
        self._presence.listening_since = None  # nothing is judged while nobody listens
        tasks = [self._renewal, *self._background]
        self._renewal = None
        for task in tasks:
            await cancel_and_wait(task)
        await super().close()

    # --- requests ---

    async def probe(self) -> None:
        """A request that needs the session: its answer shows the server alive and us welcome."""
        await self._call("device/list", {"take": 1})

    async def _call(
        self,
        action: str,
        fields: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its success reply; errors raise."""
        self._next_id += 1
        request_id = str(self._next_id)
        frame = {"action": action, "requestId": request_id, **(fields or {})}
        text = orjson.dumps(frame).decode()
        if len(text.encode()) > MAX_TEXT:
            raise CommandFailed(
                "the message exceeds DeviceHive's 10 KB limit", code=CommandCode.TOO_LARGE
            )
        with self.awaiting_reply(request_id, action) as reply:
            result: dict[str, Any] = await self._send_and_wait(
                text, reply, timeout or self.request_timeout
            )
        return result

    @contextmanager
    def awaiting_reply(self, request_id: str, action: str) -> Iterator[asyncio.Future[Any]]:
        """The reply to a request of this action, awaited while the block runs."""
        self._inflight[request_id] = action
        try:
            with self.awaiting(request_id) as reply:
                yield reply
        finally:
            self._inflight.pop(request_id, None)

    def _on_reply(self, request_id: str, frame: Mapping[str, Any]) -> None:
        action = self._inflight.get(request_id)
        if action is None:
            self.drop(Drop.UNMATCHED_REPLY, frame.get("action"))
            return
        status = frame.get("status")
        if status == "success":
            self.resolve(request_id, frame)
        elif status == "error":
            self._on_error(request_id, action, frame.get("code"), frame.get("error"))
        else:
            self.reject(
                request_id,
                CommandFailed("DeviceHive sent an odd reply", code=CommandCode.BAD_REPLY),
            )

    def _on_error(self, request_id: str, action: str, code: Any, error: Any) -> None:
        """Fail the request; a refused sign-in is InvalidAuth, a 401 later ends the session."""
        message = str(error or "error")[:200]
        if action in SIGN_IN_ACTIONS and refuses_credentials(action, code):
            self.reject(request_id, InvalidAuth(f"DeviceHive refused the credentials: {message}"))
            return
        self.reject(request_id, CommandFailed(f"DeviceHive: {message}", code=code))
        if code == HTTPStatus.UNAUTHORIZED and self._established:
            # Only a server that checks tokens on every request says this: sign in afresh.
            self.end_session(CannotConnect("the DeviceHive server no longer accepts the session"))

    # --- frames ---

    def handle_text(self, text: str) -> None:
        """Route a reply to its request, a push to its handler."""
        if self._established and self._held is None:
            self._advance_cursor()
        frame = self.decode_object(text)
        if frame is None:
            return
        request_id = frame.get("requestId")
        if request_id is not None:
            self._on_reply(str(request_id), frame)
        elif frame.get("action") == "notification/insert":
            self._on_notification(frame)
        elif frame.get("action") == "command/update":
            self._on_command_update(frame)
        elif frame.get("status") == "error" or "error" in frame:
            self.drop(Drop.HUB_ERROR, frame.get("error"))
        else:
            self.drop(Drop.UNKNOWN_KIND, frame.get("action"))

    def _advance_cursor(self) -> None:
        """Everything up to a little before now has reached us: a reconnect starts there."""
        cursor = time.time() + self._offset - CURSOR_MARGIN
        if self._cursor is None or cursor > self._cursor:
            self._cursor = cursor

    def _on_notification(self, frame: Mapping[str, Any]) -> None:
        item = frame.get("notification")
        if not is_notification(item):
            self.drop(Drop.MALFORMED, item if isinstance(item, dict) else frame)
            return
        if self._held is not None:
            self._held.append((item, time.time()))
        else:
            self._deliver(item, time.time())

    def _deliver(self, item: Notification, arrival: float) -> None:
        """Emit one notification unless it was delivered already."""
        device_id, name = item["deviceId"], item["notification"]
        stamp = item.get("timestamp")
        when = parse_time(stamp) if isinstance(stamp, str) else None
        server_time = when.timestamp() if when is not None else None
        if not self._first_time(item, server_time, arrival):
            self.drop(Drop.DUPLICATE, item.get("id"))
            return
        parameters = item.get("parameters")
        fields = parameters if isinstance(parameters, dict) else {}
        if not self._follows(device_id, name, fields):
            return
        trip_end: tuple[HubMessage, ...] = ()
        if name in DEVICE_EVENTS:
            update: DeviceUpdate | None = self._record_update(device_id, fields, time.time())
        else:
            if device_id not in self._presence:
                self.reload_fleet_soon()  # a device added since the last device/list
            online = self._note_activity(device_id, server_time, arrival)
            trip_end = self._trips.observe(
                device_id,
                driving=_driving(fields),
                mileage=_number(fields, "mileage"),
                at=when,
                speed=_number(fields, "speed"),
            )
            channels = self._channels(device_id)
            update = _measurements(device_id, fields, when, online=online, channels=channels)
        if update is not None:
            self.emit(update)
        for message in trip_end:
            self.emit(message)
        if self._becomes_event(name, parameters):
            attributes = {"parameters": parameters, "id": item.get("id"), "timestamp": stamp}
            self.emit(HubNotice(CHANNEL, name, device_id, attributes))

    def _follows(self, device_id: str, name: str, fields: Mapping[str, Any]) -> bool:
        """Whether a notification is about a device brought in.

        A device moved out of the chosen networks is removed; one moved in is followed.
        """
        if not self.import_groups:
            return True
        if name not in DEVICE_EVENTS or "networkId" not in fields:
            return device_id not in self._left_out
        if self._grouping.network_of(fields) in self.import_groups:
            self._left_out.discard(device_id)
            return True
        self._left_out.add(device_id)
        if device_id in self._presence:
            self._presence.forget(device_id)
            self.emit(DeviceRemoved(device_id))
        return False

    def _becomes_event(self, name: str, parameters: Any) -> bool:
        """Whether a notification is an event: chosen by name, else carrying more than values.

        The server's $device-add and $device-update carry the device record, which the device
        and its Online show.
        """
        if not name or len(name) > MAX_NAME:
            return False
        if len(self.notification_names) < MAX_SEEN_NAMES:
            self.notification_names.add(name)
        if self._event_names is not None:
            return name in self._event_names
        return name not in DEVICE_EVENTS and not _only_measured(parameters)

    def _first_time(self, item: Notification, server_time: float | None, arrival: float) -> bool:
        """Whether a notification is new; one without an id cannot be told apart: it is."""
        notification_id = item.get("id")
        if not isinstance(notification_id, int | str) or isinstance(notification_id, bool):
            return True
        key = hash((item["deviceId"], notification_id, str(item.get("timestamp"))))
        cursor = self._cursor if self._cursor is not None else -math.inf
        return self._delivered.first_time(key, server_time, cursor, arrival + self._offset)

    def _on_command_update(self, frame: Mapping[str, Any]) -> None:
        command = frame.get("command")
        command_id = _as_int(command.get("id")) if isinstance(command, dict) else None
        if command_id is None or not isinstance(command, dict):
            self.drop(Drop.MALFORMED, frame)
            return
        self._note_command_activity(command)
        if not self.resolve(("command", command_id), command):
            self._updates[command_id] = command
            self._updates.move_to_end(command_id)
            if len(self._updates) > KEPT_UPDATES:
                self._updates.popitem(last=False)

    def _note_command_activity(self, command: Mapping[str, Any]) -> None:
        """A device that updated a command is alive."""
        device_id = command.get("deviceId")
        if not isinstance(device_id, str) or device_id not in self._presence:
            return
        stamp = command.get("lastUpdated")
        when = parse_time(stamp) if isinstance(stamp, str) else None
        if self._note_activity(device_id, when.timestamp() if when else None, time.time()):
            self._emit_online(device_id)

    # --- commands ---

    @property
    @override
    def ready(self) -> bool:
        """Connected, and the session established (signed in, subscribed)."""
        return self._established and self.connected

    @override
    async def _command(self, command: Command) -> Any:
        """Insert a command and wait for the device's update; return id, status and result."""
        timeout = command.timeout
        body = {
            "command": command.name,
            "parameters": dict(command.parameters),
            "lifetime": _lifetime(timeout),
        }
        try:
            orjson.dumps(body)
        except TypeError as err:
            raise CommandFailed(
                "the parameters are not JSON", code=CommandCode.BAD_PARAMETERS
            ) from err
        async with within(timeout, "the device"):
            await self._subscribe_command_updates()
            fields = {"deviceId": command.device_id, "command": body}
            reply = await self._call("command/insert", fields, timeout=timeout)
            inserted = reply.get("command")
            command_id = _as_int(inserted.get("id")) if isinstance(inserted, dict) else None
            if command_id is None:
                raise CommandFailed("DeviceHive sent no command id", code=CommandCode.BAD_REPLY)
            update = await self._command_outcome(command_id)
        return _command_result(command_id, update)

    async def _subscribe_command_updates(self) -> None:
        """Ask for command/update pushes, once per connection."""
        async with self._command_lock:
            if not self._commands_subscribed:
                await self._call("command/subscribe", {"returnUpdatedCommands": True})
                self._commands_subscribed = True

    async def _command_outcome(self, command_id: int) -> Mapping[str, Any]:
        """Wait until the device reports a final status for the command."""
        while True:
            update: Mapping[str, Any] | None = self._updates.pop(command_id, None)
            if update is None:
                update = await self._next_update(("command", command_id))
            if str(update.get("status") or "").casefold() not in PENDING_STATUSES:
                return update

    async def _next_update(self, key: Hashable) -> Mapping[str, Any]:
        with self.awaiting(key) as update:
            result: Mapping[str, Any] = await self._await_reply(update)
        return result

    def _fail_pending(self, error: Exception) -> None:
        """Forget the per-connection command subscription with the connection."""
        self._commands_subscribed = False
        super()._fail_pending(error)


# --- parsing helpers ---


def _websocket_url(url: str) -> URL:
    parsed = as_websocket(URL(url.strip()))
    if parsed.scheme not in ("ws", "wss") or not parsed.host:
        raise ValueError("the DeviceHive URL must be ws:// or wss:// with a host")
    return parsed


def _offline_after(config: Mapping[str, Any]) -> float:
    """The "offline after" option (minutes) in seconds; the default when unusable."""
    minutes = config.get(OFFLINE_AFTER_OPTION)
    if not is_number(minutes) or not 0 < minutes < math.inf:
        minutes = OFFLINE_AFTER_MINUTES
    return float(minutes) * 60.0


def _event_names(option: Any) -> frozenset[str] | None:
    """The notification names the user chose; None when none are (the default applies)."""
    if isinstance(option, str) or not isinstance(option, Collection):
        return None
    names = frozenset(name.strip() for name in option if isinstance(name, str) and name.strip())
    return names or None


def _only_measured(parameters: Any) -> bool:
    """Whether notification parameters carry only what entities show (or nothing at all)."""
    return parameters is None or (isinstance(parameters, dict) and parameters.keys() <= MEASURED)


def _measurements(
    device_id: str,
    parameters: Mapping[str, Any],
    when: datetime | None,
    *,
    online: bool,
    channels: frozenset[str],
) -> DeviceUpdate | None:
    """Position and battery from a notification's parameters, by FleetPush's convention."""
    position = _position(parameters, when)
    values: dict[Field, Value] = {Field.ONLINE: True} if online else {}
    if "battery" in parameters:
        values[Field.BATTERY] = _number(parameters, "battery")
    if position is None and not values:
        return None
    return DeviceUpdate(device_id, position=position, values=values, channels=channels)


def _position(parameters: Mapping[str, Any], when: datetime | None) -> Position | None:
    return Position.checked(
        _number(parameters, "lat", "latitude"),
        _number(parameters, "lng", "lon", "longitude"),
        time=when,
        speed=_number(parameters, "speed"),
        heading=_number(parameters, "heading"),
        altitude=_number(parameters, "altitude"),
        accuracy=_number(parameters, "accuracy"),
    )


def _number(mapping: Mapping[str, Any], *keys: str) -> float | None:
    """The first of keys that is present, as a finite number (None when it is not one)."""
    for key in keys:
        if key in mapping:
            value = mapping[key]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            try:
                number = float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS:
        return int(value)
    return None


def _lifetime(timeout: float) -> int:
    return max(1, math.ceil(timeout))


def _command_result(command_id: int, update: Mapping[str, Any]) -> dict[str, Any]:
    status = update.get("status")
    result = update.get("result")
    if str(status).casefold() in FAILED_STATUSES:
        detail = orjson.dumps(result).decode()[:200]
        raise CommandFailed(f"the device reported {status}: {detail}", code=str(status))
    return {"id": command_id, "status": status, "result": result}


def _driving(parameters: Mapping[str, Any]) -> bool | None:
    """Whether the vehicle drives, where a notification says: `ignition`, else `moving`."""
    for key in ("ignition", "moving"):
        if isinstance(value := parameters.get(key), bool):
            return value
    return None


CLIENT = DeviceHiveClient
