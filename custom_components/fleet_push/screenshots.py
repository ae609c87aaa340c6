"""Screenshots on demand: taken by the "Take screenshot" button or the take_screenshot action.

Never polled: a phone's screenshot is taken only when asked for, refused while the phone is
offline, and bounded in size (hubs/screenshots.py). Only the latest one per phone is kept, in
memory; the screenshot entity (image.py) shows it.
"""

from __future__ import annotations

from typing import Final

from homeassistant.components.image import DOMAIN as IMAGE_DOMAIN
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import service

from .const import DOMAIN
from .coordinator import CommandError, FleetPushCoordinator
from .hubs.model import Field
from .hubs.screenshots import (
    MAX_SCREENSHOT_BYTES,
    SCREENSHOT_TIMEOUT,
    Screenshot,
    ScreenshotTooLarge,
)

SERVICE_TAKE_SCREENSHOT: Final = "take_screenshot"
SCREENSHOT: Final = "screenshot"
"""The aspect of a device its screenshot entity listens to."""


async def async_take_screenshot(coordinator: FleetPushCoordinator, device_id: str) -> Screenshot:
    """Take a phone's screenshot now and show it; a translated error if it cannot be."""
    placeholders = {"device": coordinator.device_name(device_id)}
    device = coordinator.devices.get(device_id)
    if device is not None and device.values.get(Field.ONLINE) is False:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="screenshot_offline",
            translation_placeholders=placeholders,
        )
    try:
        screenshot = await coordinator.async_ask(
            device_id,
            SCREENSHOT,
            SCREENSHOT_TIMEOUT,
            lambda: coordinator.client.take_screenshot(device_id, SCREENSHOT_TIMEOUT),
        )
    except CommandError as err:
        if not isinstance(err.__cause__, ScreenshotTooLarge):
            raise
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="screenshot_too_large",
            translation_placeholders={
                **placeholders,
                "limit": f"{MAX_SCREENSHOT_BYTES // (1024 * 1024)}",
            },
        ) from err
    coordinator.screenshots[device_id] = screenshot
    coordinator.listeners.device_changed(device_id, {SCREENSHOT})
    return screenshot


@callback
def async_setup_screenshot_service(hass: HomeAssistant) -> None:
    """Register fleet_push.take_screenshot on FleetPush's screenshot entities.

    Its targets may be entities, devices, areas or labels: Home Assistant resolves them to the
    screenshot entities they hold.
    """
    service.async_register_platform_entity_service(
        hass,
        DOMAIN,
        SERVICE_TAKE_SCREENSHOT,
        entity_domain=IMAGE_DOMAIN,
        schema=None,
        func="async_take_screenshot",
    )
