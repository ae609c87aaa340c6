"""Who listens to what: each entity to the aspects of its device it shows, or to its notices."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from homeassistant.core import CALLBACK_TYPE, callback

from .fleet import Device
from .hubs.model import HubNotice

type DeviceListener = Callable[[], None]
type NoticeListener = Callable[[HubNotice], None]
type DeviceAddedListener = Callable[[Device], None]


class _Removal[K]:
    """Removes one listener, by its key in the dict that holds it, when called.

    One slotted object per entity: a closure (function, cells) or a partial (its arguments,
    keywords and bound method) is four allocations, thousands of times over.
    """

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
        self._device: defaultdict[str, dict[DeviceListener, frozenset[str]]] = defaultdict(dict)
        self._notice: dict[tuple[str, str], NoticeListener] = {}
        self._added: list[DeviceAddedListener] = []

    @callback
    def add_device_listener(
        self, device_id: str, aspects: frozenset[str], listener: DeviceListener
    ) -> CALLBACK_TYPE:
        """Call listener when these aspects of the device change (and on availability)."""
        listeners = self._device[device_id]
        listeners[listener] = aspects
        return _Removal(listeners, listener)

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
        """Call the device's listeners of the touched aspects; None: all of them."""
        listeners = self._device.get(device_id)
        if not listeners:
            return
        for listener, aspects in tuple(listeners.items()):
            if touched is None or not aspects.isdisjoint(touched):
                listener()

    def everything_changed(self) -> None:
        """Call every device listener (availability changed)."""
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
