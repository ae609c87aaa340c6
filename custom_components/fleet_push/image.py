"""Images: each phone's latest screenshot, for hub kinds that take screenshots."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.image import ImageEntity, ImageEntityDescription

from .coordinator import FleetPushCoordinator
from .entity import FleetPushEntity, FleetPushEntityDescription, setup_entry
from .fleet import Device
from .hubs.model import Field
from .screenshots import SCREENSHOT, async_take_screenshot

# Screenshots are taken only when asked for (screenshots.py): nothing is fetched in parallel.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class FleetPushImageEntityDescription(ImageEntityDescription, FleetPushEntityDescription):
    """A phone's screenshot."""


SCREENSHOT_IMAGE = FleetPushImageEntityDescription(
    key=SCREENSHOT, translation_key=SCREENSHOT, field=Field.ONLINE
)
_ASPECTS = frozenset({SCREENSHOT})


def _screenshots(coordinator: FleetPushCoordinator, device: Device) -> Iterable[FleetPushEntity]:
    """A screenshot entity on every phone of a kind that takes screenshots."""
    if device.is_hub or not coordinator.declaration.screenshots:
        return []
    return [FleetPushScreenshot(coordinator, device.device_id, SCREENSHOT_IMAGE)]


class FleetPushScreenshot(FleetPushEntity, ImageEntity):
    """The latest screenshot of a phone; its state is when it was taken (unknown: none yet)."""

    entity_description: FleetPushImageEntityDescription

    def __init__(
        self,
        coordinator: FleetPushCoordinator,
        device_id: str,
        description: FleetPushImageEntityDescription,
    ) -> None:
        """An image entity that fetches nothing itself."""
        ImageEntity.__init__(self, coordinator.hass)
        FleetPushEntity.__init__(self, coordinator, device_id, description)

    @property
    @override
    def aspects(self) -> frozenset[str]:
        """Told only when a screenshot was taken (and on availability)."""
        return _ASPECTS

    @override
    def _recompute(self) -> tuple[Any, ...]:
        screenshot = self.coordinator.screenshots.get(self.device_id)
        if screenshot is not None:
            self._attr_content_type = screenshot.content_type
            self._attr_image_last_updated = screenshot.taken
        return (*super()._recompute(), self._attr_image_last_updated)

    @override
    async def async_image(self) -> bytes | None:
        """The latest screenshot's bytes."""
        screenshot = self.coordinator.screenshots.get(self.device_id)
        return None if screenshot is None else screenshot.content

    async def async_take_screenshot(self) -> None:
        """The take_screenshot action: take the phone's screenshot now."""
        await async_take_screenshot(self.coordinator, self.device_id)


async_setup_entry = setup_entry(_screenshots)
