"""A sixth hub kind that exists only in the tests: proof that a kind is one module.

Its protocol is the smallest one that has everything a hub kind has: a device list, pushed
updates, notices and commands with replies, over one JSON WebSocket. The client declares its
kind; the simulator plays the hub. Registered at test time, it gets a setup form, entities,
events and a button from FleetPush without any change to FleetPush's own modules.
"""

from __future__ import annotations

from collections.abc import Mapping
import itertools
import json
from typing import Any, override

import aiohttp
import orjson

from custom_components.fleet_push.hubs.connection import Drop, HubClient, Listener, Timing
from custom_components.fleet_push.hubs.declaration import (
    Channel,
    HubDeclaration,
    Identity,
    Press,
    Setting,
    SettingType,
)
from custom_components.fleet_push.hubs.errors import CannotConnect, HubTimeout
from custom_components.fleet_push.hubs.model import (
    Command,
    DeviceDetails,
    DeviceUpdate,
    Field,
    FleetSnapshot,
    HubInfo,
    HubNotice,
    Value,
)

from .simulator.base import Connection, HubSimulator

CHANNEL = "chime"


class EchoClient(HubClient):
    """The client of the echo hub."""

    declaration = HubDeclaration(
        kind="echo",
        name="Echo",
        settings=(
            Setting("host", SettingType.HOST, required=True, identity=True),
            Setting("port", SettingType.PORT, default=4000, required=True),
        ),
        identity=Identity.ADDRESS,
        channels=(Channel(CHANNEL, ("beep", "boop")),),
        presses=(Press("ring", "ring", {"times": 2}),),
        fields=frozenset({Field.ONLINE, Field.BATTERY}),
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        listener: Listener,
        *,
        host: str,
        port: int,
        timing: Timing | None = None,
    ) -> None:
        """Remember where the hub is."""
        super().__init__(session, listener, timing=timing)
        self.url = f"ws://{host}:{port}/"
        self._ids = itertools.count(1)

    @classmethod
    def settings(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """From "host" and "port"."""
        return {"host": config["host"], "port": int(config["port"])}

    async def _establish(self) -> HubInfo:
        """Open the socket and load the devices."""
        await self.open_websocket(self.url, ssl=False)
        try:
            devices = await self._ask({"list": True})
        except HubTimeout as err:
            raise CannotConnect("the echo hub sent no list") from err
        self.emit(FleetSnapshot(tuple(_device(record) for record in devices["devices"])))
        return HubInfo(
            unique_id=self.url, title=f"Echo {self.url}", manufacturer="Echo", model=None
        )

    def handle_text(self, text: str) -> None:
        """A reply, an update or a notice."""
        frame = self.decode_object(text)
        if frame is None:
            return
        if "reply" in frame:
            self.resolve(frame["reply"], frame)
        elif "device" in frame:
            self.emit(_device(frame["device"]))
        elif "notice" in frame:
            notice = frame["notice"]
            self.emit(HubNotice(CHANNEL, notice["type"], notice["device"], {}))
        else:
            self.drop(Drop.UNKNOWN_KIND, frame)

    @override
    async def _command(self, command: Command) -> Any:
        request = {"command": command.name, "device": command.device_id, **command.parameters}
        reply = await self._ask(request, command.timeout)
        return reply["result"]

    async def _ask(self, request: dict[str, Any], timeout: float = 5.0) -> Any:
        key = next(self._ids)
        text = orjson.dumps({**request, "id": key}).decode()
        return await self.request(key, text, timeout)


def _device(record: Mapping[str, Any]) -> DeviceUpdate:
    values: dict[Field, Value] = {Field.ONLINE: record["online"], Field.BATTERY: record["battery"]}
    return DeviceUpdate(
        record["id"],
        DeviceDetails(name=record["name"]),
        values=values,
        channels=frozenset({CHANNEL}),
    )


class EchoSimulator(HubSimulator):
    """The echo hub: answers a list, pushes updates and notices, carries out commands."""

    kind = "echo"

    def build_fleet(self, devices: int) -> None:
        """Echo devices e1 ... eN, online, half charged."""
        self.devices = {
            f"e{n}": {"id": f"e{n}", "name": f"Echo {n}", "online": True, "battery": 50}
            for n in range(1, devices + 1)
        }
        self.commands: list[dict[str, Any]] = []

    def form(self) -> dict[str, Any]:
        """The hub's address, as a user types it."""
        return {"host": self.host, "port": self.port}

    @property
    def hub_unique_id(self) -> str:
        """As the client names it."""
        return f"ws://{self.host}:{self.port}/"

    async def on_text(self, conn: Connection, text: str) -> None:
        """Answer a request."""
        request = json.loads(text)
        if request.get("list"):
            await conn.send({"reply": request["id"], "devices": list(self.devices.values())})
        else:
            self.commands.append(request)
            await conn.send({"reply": request["id"], "result": {"rang": request.get("times")}})

    async def update(self, device_id: str, **values: Any) -> None:
        """A device changed."""
        self.devices[device_id].update(values)
        await self.push({"device": self.devices[device_id]})

    async def notice(self, device_id: str, event_type: str) -> None:
        """Something happened on a device."""
        await self.push({"notice": {"device": device_id, "type": event_type}})


SIMULATOR = EchoSimulator
VARIANTS: dict[str, dict[str, Any]] = {"vendor": {}, "least_convenient": {}}
