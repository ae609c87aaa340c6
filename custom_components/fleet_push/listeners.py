"""Who listens to what: each entity to the aspects of its device it shows, or to its notices."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from homeassistant.core import CALLBACK_TYPE, callback

from .fleet import Device
from .hubs.model import HubNotice

type NoticeListener = Callable[[HubNotice], None]
type DeviceAddedListener = Callable[[Device], None]


class DeviceWatcher(Protocol):
    """What follows some aspects of one device (an entity)."""

    device_id: str

    def on_device_change(self) -> None:
        """Some aspect of the device it follows changed, or availability did."""


class _Removal[K]:
    """Removes one listener, by its key in the dict that holds it, when called."""

    __slots__ = ("_key", "_listeners")

    def __init__(self, listeners: dict[K, Any], key: K) -> None:
        """Remember whom to remove from where."""
        self._listeners = listeners
        self._key = key

    def __call__(self) -> None:
        """Remove the listener (again: nothing)."""
        self._listeners.pop(self._key, None)


class Listeners:
    """Entities' and platforms' callbacks, called for exactly what concerns them."""

    def __init__(self) -> None:
        """Nobody listens yet."""
        self._device: defaultdict[str, dict[DeviceWatcher, frozenset[str]]] = defaultdict(dict)
        self._notice: dict[tuple[str, str], NoticeListener] = {}
        self._added: list[DeviceAddedListener] = []

    @callback
    def watch(self, watcher: DeviceWatcher, aspects: frozenset[str]) -> None:
        """Tell the watcher when these aspects of its device change (and on availability).

        The watcher itself is kept, not a bound method and a remover for it: two objects
        fewer per entity, thousands of times over.
        """
        self._device[watcher.device_id][watcher] = aspects

    @callback
    def unwatch(self, watcher: DeviceWatcher) -> None:
        """Stop telling the watcher (again: nothing)."""
        if (watchers := self._device.get(watcher.device_id)) is not None:
            watchers.pop(watcher, None)

    @callback
    def add_notice_listener(
        self, device_id: str, channel: str, listener: NoticeListener
    ) -> CALLBACK_TYPE:
        """Call listener with every notice on a device's channel."""
        key = (device_id, channel)
        self._notice[key] = listener
        return _Removal(self._notice, key)

    @callback
    def add_device_added_listener(self, listener: DeviceAddedListener) -> CALLBACK_TYPE:
        """Call listener when a device appears or gains fields (platforms add entities)."""
        self._added.append(listener)

        @callback
        def remove() -> None:
            self._added.remove(listener)

        return remove

    def device_changed(self, device_id: str, touched: set[str] | None = None) -> None:
        """Tell the device's watchers of the touched aspects; None: all of them."""
        watchers = self._device.get(device_id)
        if not watchers:
            return
        for watcher, aspects in tuple(watchers.items()):
            if touched is None or not aspects.isdisjoint(touched):
                watcher.on_device_change()

    def everything_changed(self) -> None:
        """Tell every watcher of every device (availability changed)."""
        for device_id in tuple(self._device):
            self.device_changed(device_id)

    def device_shaped(self, device: Device) -> None:
        """A device appeared or gained fields: the platforms may add entities."""
        for listener in tuple(self._added):
            listener(device)

    def notice(self, device_id: str, notice: HubNotice) -> None:
        """Hand a notice to the event entity of its device and channel, if there is one."""
        listener = self._notice.get((device_id, notice.channel))
        if listener is not None:
            listener(notice)

    def forget(self, device_id: str) -> None:
        """A device is gone: its listeners with it."""
        self._device.pop(device_id, None)
