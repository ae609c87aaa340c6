"""Set up a hub from the UI: pick its kind, enter where it is and how to sign in.

Every form is made from the hub kind's declaration (forms.py); each kind's steps are its own
(async_step_<kind>, _reconfigure_<kind>, _reauth_<kind>), so their labels are its own too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_VERIFY_SSL
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import CONF_HUB_KIND, DOMAIN, LOGGER
from .coordinator import FleetPushConfigEntry
from .forms import (
    address_of,
    cleaned,
    input_errors,
    reauth_schema,
    reconfigure_schema,
    setup_schema,
    without_secrets,
)
from .hubs import client_class, hub_kinds
from .hubs.connection import HubClient
from .hubs.declaration import HubDeclaration, Identity
from .hubs.errors import HubError, InvalidAuth, SessionClosed
from .hubs.model import HubInfo
from .migration import CURRENT_VERSION
from .options_flow import FleetPushOptionsFlow


def _declaration(kind: str) -> HubDeclaration:
    return client_class(kind).declaration


class FleetPushConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a hub: a menu of kinds, then one step per kind."""

    VERSION = CURRENT_VERSION

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: FleetPushConfigEntry) -> OptionsFlow:
        """Options of a hub."""
        return FleetPushOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of hub to add."""
        return self.async_show_menu(step_id="user", menu_options=list(hub_kinds()))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[ConfigFlowResult]]:
        """The steps of every hub kind: async_step_<kind>, _reconfigure_<kind>, _reauth_<kind>.

        Made here from the kind's declaration, so that a new hub kind needs no new methods.
        A kind without credentials is never reauthenticated.
        """
        for prefix, step in (
            ("async_step_reconfigure_", self._async_step_reconfigure),
            ("async_step_reauth_", self._async_step_reauth),
            ("async_step_", self._async_step_hub),
        ):
            kind = name.removeprefix(prefix)
            if name.startswith(prefix) and kind in hub_kinds():
                if step == self._async_step_reauth and not _declaration(kind).credentials:
                    break
                return partial(step, kind)
        raise AttributeError(name)

    async def _async_step_hub(
        self, kind: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        declaration = _declaration(kind)
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_HUB_KIND: kind, **client_class(kind).normalize_config(cleaned(user_input))}
            if (address := address_of(declaration, data)) is not None:
                self._async_abort_entries_match(address)
            info, errors = await self._async_validate(kind, data)
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=info.title, data=data)
        return self.async_show_form(
            step_id=kind,
            data_schema=self.add_suggested_values_to_schema(
                setup_schema(declaration), without_secrets(declaration, user_input)
            ),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The hub refused the stored credentials: ask for new ones in the kind's own form."""
        return await self._async_step_reauth(entry_data[CONF_HUB_KIND], None)

    async def _async_step_reauth(
        self, kind: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Ask for new credentials."""
        entry = self._get_reauth_entry()
        declaration = _declaration(kind)
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _merge(entry.data, kind, user_input, drop=declaration.credentials)
            info, errors = await self._async_validate(kind, data)
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self._async_save(entry, data, info)
        return self.async_show_form(
            step_id=f"reauth_{kind}",
            data_schema=self.add_suggested_values_to_schema(
                reauth_schema(declaration), without_secrets(declaration, user_input or entry.data)
            ),
            description_placeholders={"hub": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change where the hub is or how to sign in, in the kind's own form."""
        kind = self._get_reconfigure_entry().data[CONF_HUB_KIND]
        return await self._async_step_reconfigure(kind, None)

    async def _async_step_reconfigure(
        self, kind: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Change where the hub is (secrets left empty stay as they are)."""
        entry = self._get_reconfigure_entry()
        declaration = _declaration(kind)
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _merge(entry.data, kind, user_input, drop=())
            if (address := address_of(declaration, data)) is not None:
                self._async_abort_entries_match(address)
            info, errors = await self._async_validate(kind, data)
            if info is not None:
                if declaration.identity is not Identity.ADDRESS:
                    await self.async_set_unique_id(info.unique_id)
                    self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self._async_save(entry, data, info)
        return self.async_show_form(
            step_id=f"reconfigure_{kind}",
            data_schema=self.add_suggested_values_to_schema(
                reconfigure_schema(declaration),
                without_secrets(declaration, user_input or entry.data),
            ),
            description_placeholders={"hub": entry.title},
            errors=errors,
        )

    def _async_save(
        self, entry: FleetPushConfigEntry, data: dict[str, Any], info: HubInfo
    ) -> ConfigFlowResult:
        """Save new settings: a loaded hub takes them without a reload, another one reloads."""
        if entry.state is ConfigEntryState.LOADED:
            return self.async_update_and_abort(entry, data=data, title=info.title)
        return self.async_update_reload_and_abort(entry, data=data, title=info.title)

    async def _async_validate(
        self, kind: str, data: dict[str, Any]
    ) -> tuple[HubInfo | None, dict[str, str]]:
        """Connect and sign in once; the hub's identity, or the errors to show."""
        if errors := input_errors(_declaration(kind), data):
            return None, errors
        session = async_get_clientsession(self.hass, verify_ssl=data.get(CONF_VERIFY_SSL, True))
        client: HubClient | None = None
        try:
            client = client_class(kind).from_config(session, lambda _message: None, data)
            return await client.connect(), {}
        except InvalidAuth, SessionClosed:
            return None, {"base": "invalid_auth"}
        except HubError as err:
            LOGGER.debug("Cannot connect to the %s hub: %s", kind, err)
            return None, {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - any other failure is shown as "unknown"
            LOGGER.exception("Unexpected error connecting to the %s hub", kind)
            return None, {"base": "unknown"}
        finally:
            if client is not None:
                await client.close()


def _merge(
    stored: Mapping[str, Any], kind: str, user_input: Mapping[str, Any], drop: tuple[str, ...]
) -> dict[str, Any]:
    """Stored data updated with the input; `drop` keys are replaced, not kept."""
    kept = {key: value for key, value in stored.items() if key not in drop}
    return {**kept, **client_class(kind).normalize_config(cleaned(user_input))}
