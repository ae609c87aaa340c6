"""Constants of the FleetPush integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "fleet_push"
LOGGER = logging.getLogger(__package__)

CONF_HUB_KIND: Final = "hub_kind"

# Options.
CONF_GRACE_PERIOD: Final = "grace_period"
DEFAULT_GRACE_PERIOD: Final = 60
"""Seconds a lost hub keeps its entities available while FleetPush reconnects."""
CONF_MIN_POSITION_INTERVAL: Final = "min_position_interval"
DEFAULT_MIN_POSITION_INTERVAL: Final = 0
"""Seconds between position-only updates of one device; 0 lets every position through."""

EVENT_FLEET_PUSH: Final = "fleet_push_event"

DEFAULT_COMMAND_TIMEOUT: Final = 15.0
"""Seconds a command (an action, a button or a switch) waits for the hub's answer."""

LICENCE_WARNING_DAYS: Final = 7
CONF_STALE_AFTER: Final = "stale_after"
DEFAULT_STALE_AFTER: Final = 30
"""Minutes an online device's fix may stand still before its position counts as stale."""
