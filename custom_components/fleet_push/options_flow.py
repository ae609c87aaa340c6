"""A hub's options: what every hub has, and what its kind declares (they apply at once)."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow

from .const import CONF_HUB_KIND
from .forms import chosen_names, options_schema
from .hubs import client_class
from .hubs.declaration import SettingType


class FleetPushOptionsFlow(OptionsFlow):
    """The options of one hub, named in the form's title."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and save the options (they apply at once, without a reload)."""
        entry = self.config_entry
        declaration = client_class(entry.data[CONF_HUB_KIND]).declaration
        if user_input is not None:
            return self.async_create_entry(data=chosen_names(declaration, user_input))
        offered: dict[str, set[str]] = {}
        for option in declaration.options:
            if option.type is SettingType.NAMES:
                names = offered[option.key] = set(entry.options.get(option.key) or ())
                if entry.state is ConfigEntryState.LOADED:
                    names |= entry.runtime_data.client.offered(option.key)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(declaration, offered), entry.options
            ),
            description_placeholders={"hub": entry.title},
        )
