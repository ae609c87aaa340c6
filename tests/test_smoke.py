from custom_components.fleet_push.hubs.model import DeviceUpdate


async def test_x(hass) -> None:
    assert DeviceUpdate("a").device_id == "a"
