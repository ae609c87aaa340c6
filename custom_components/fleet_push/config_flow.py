"""Set up a hub from the UI: pick its kind, enter where it is and how to sign in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, override
from urllib.parse import urlsplit

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import (
    CONF_API_KEY,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import callback
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import probatio as vol

from .const import (
    CONF_GRACE_PERIOD,
    CONF_HUB_KIND,
    CONF_MIN_POSITION_INTERVAL,
    CONF_NOTIFICATION_EVENTS,
    CONF_OFFLINE_AFTER,
    DEFAULT_GRACE_PERIOD,
    DEFAULT_MIN_POSITION_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .coordinator import FleetPushConfigEntry
from .hubs import HUB_KINDS, client_class
from .hubs.connection import HubClient
from .hubs.devicehive import MAX_NAME, OFFLINE_AFTER_MINUTES, DeviceHiveClient
from .hubs.errors import HubError, InvalidAuth, SessionClosed
from .hubs.model import HubInfo
from .migration import CURRENT_VERSION

_TEXT = selector.TextSelector()
_SECRET = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)
_URL = selector.TextSelector(selector.TextSelectorConfig(type=selector.TextSelectorType.URL))
_PORT = vol.All(
    selector.NumberSelector(
        selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
    ),
    vol.Coerce(int),
)
_BOOL = selector.BooleanSelector()


def _local(default_host: str | None, default_port: int) -> dict[vol.Marker, Any]:
    host = vol.Required(CONF_HOST, default=default_host or vol.UNDEFINED)
    return {host: _TEXT, vol.Required(CONF_PORT, default=default_port): _PORT}


def _cloud(default_url: str | None, secrets: dict[vol.Marker, Any]) -> dict[vol.Marker, Any]:
    url = vol.Required(CONF_URL, default=default_url or vol.UNDEFINED)
    return {url: _URL, **secrets, vol.Required(CONF_VERIFY_SSL, default=True): _BOOL}


_LOGIN: dict[vol.Marker, Any] = {
    vol.Optional(CONF_USERNAME): _TEXT,
    vol.Optional(CONF_PASSWORD): _SECRET,
}

FIELDS: dict[str, dict[vol.Marker, Any]] = {
    "imouse": _local(None, 9911),
    "iclick": _local("127.0.0.1", 23188),
    "navixy": _cloud(
        "https://api.eu.navixy.com/v2", {vol.Optional(CONF_API_KEY): _SECRET, **_LOGIN}
    ),
    "devicehive": _cloud(None, {vol.Optional(CONF_TOKEN): _SECRET, **_LOGIN}),
    "tftiot": _cloud(
        "wss://openapi.tftiot.com:8443/websocket",
        {vol.Required(CONF_USERNAME): _TEXT, vol.Required(CONF_PASSWORD): _SECRET},
    ),
}
"""The fields of each hub kind's step."""

SECRETS = frozenset({CONF_API_KEY, CONF_TOKEN, CONF_PASSWORD})
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "navixy": (CONF_API_KEY, CONF_USERNAME, CONF_PASSWORD),
    "devicehive": (CONF_TOKEN, CONF_USERNAME, CONF_PASSWORD),
    "tftiot": (CONF_PASSWORD,),
}
"""What reauthentication asks for; kinds without credentials never need it."""
TOKEN_FIELDS = {"navixy": CONF_API_KEY, "devicehive": CONF_TOKEN}
"""Kinds that take a token instead of a username and password."""
ADDRESS_IDENTIFIED = frozenset({"imouse", "iclick"})
"""Kinds known only by their address: moving one to a new address keeps its identity."""
URL_SCHEMES = {"navixy": ("http", "https"), "devicehive": ("ws", "wss"), "tftiot": ("ws", "wss")}


def _input_errors(kind: str, data: Mapping[str, Any]) -> dict[str, str]:
    """Errors a form shows before anything is sent."""
    if kind in ADDRESS_IDENTIFIED:
        host = str(data.get(CONF_HOST, "")).strip()
        if not host or any(char in host for char in "/:@ ?#"):
            return {CONF_HOST: "invalid_host"}
    else:
        try:
            url = urlsplit(str(data.get(CONF_URL, "")).strip())
            valid = url.scheme in URL_SCHEMES[kind] and bool(url.hostname) and url.port != 0
        except ValueError:  # a broken IPv6 literal, a port out of range
            valid = False
        if not valid:
            return {CONF_URL: "invalid_url"}
    if (token := TOKEN_FIELDS.get(kind)) and not (
        data.get(token) or (data.get(CONF_USERNAME) and data.get(CONF_PASSWORD))
    ):
        return {"base": f"{token}_or_login_required"}
    return {}


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The input without empty optional fields, strings stripped."""
    return {
        key: value.strip() if isinstance(value, str) else value
        for key, value in user_input.items()
        if value not in ("", None)
    }


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
        return self.async_show_menu(step_id="user", menu_options=list(HUB_KINDS))

    def __getattr__(self, name: str) -> Callable[..., Awaitable[ConfigFlowResult]]:
        """The steps of every hub kind: async_step_<kind>, _reconfigure_<kind>, _reauth_<kind>.

        Each kind has forms of its own (their labels are its own), made here from the kind's
        fields, so that a new hub kind needs no new methods.
        """
        for prefix, step, kinds in (
            ("async_step_reconfigure_", self._async_step_reconfigure, HUB_KINDS),
            ("async_step_reauth_", self._async_step_reauth, CREDENTIALS),
            ("async_step_", self._async_step_hub, HUB_KINDS),
        ):
            if name.startswith(prefix) and name.removeprefix(prefix) in kinds:
                return partial(step, name.removeprefix(prefix))
        raise AttributeError(name)

    async def _async_step_hub(
        self, kind: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {CONF_HUB_KIND: kind, **client_class(kind).normalize_config(_clean(user_input))}
            if kind in ADDRESS_IDENTIFIED:
                self._async_abort_entries_match(
                    {CONF_HOST: data.get(CONF_HOST), CONF_PORT: data.get(CONF_PORT)}
                )
            info, errors = await self._async_validate(kind, data)
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=info.title, data=data)
        return self.async_show_form(
            step_id=kind,
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(FIELDS[kind]), _without_secrets(user_input)
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
        fields = {key: value for key, value in FIELDS[kind].items() if key in CREDENTIALS[kind]}
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _merge(entry.data, kind, user_input, drop=CREDENTIALS[kind])
            info, errors = await self._async_validate(kind, data)
            if info is not None:
                await self.async_set_unique_id(info.unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self._async_save(entry, data, info)
        return self.async_show_form(
            step_id=f"reauth_{kind}",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(fields), _without_secrets(user_input or entry.data)
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
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _merge(entry.data, kind, user_input, drop=())
            if kind in ADDRESS_IDENTIFIED:
                self._async_abort_entries_match(
                    {CONF_HOST: data.get(CONF_HOST), CONF_PORT: data.get(CONF_PORT)}
                )
            info, errors = await self._async_validate(kind, data)
            if info is not None:
                if kind not in ADDRESS_IDENTIFIED:
                    await self.async_set_unique_id(info.unique_id)
                    self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self._async_save(entry, data, info)
        fields = {_optional_secret(key): value for key, value in FIELDS[kind].items()}
        return self.async_show_form(
            step_id=f"reconfigure_{kind}",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(fields), _without_secrets(user_input or entry.data)
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
        if errors := _input_errors(kind, data):
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
    return {**kept, **client_class(kind).normalize_config(_clean(user_input))}


def _without_secrets(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Values to pre-fill a form with: never a secret."""
    return {key: value for key, value in (data or {}).items() if key not in SECRETS}


def _optional_secret(key: vol.Marker) -> vol.Marker:
    """Secrets are optional when reconfiguring: empty keeps the stored one."""
    if str(key) in SECRETS:
        return vol.Optional(str(key))
    return key


_MINUTES = vol.All(
    selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=1, max=1440, unit_of_measurement="min", mode=selector.NumberSelectorMode.BOX
        )
    ),
    vol.Coerce(int),
)


def _notification_names(entry: FleetPushConfigEntry) -> list[str]:
    """What to offer for DeviceHive events: the names chosen and those the hub has sent."""
    names = set(entry.options.get(CONF_NOTIFICATION_EVENTS) or ())
    if entry.state is ConfigEntryState.LOADED and isinstance(
        client := entry.runtime_data.client, DeviceHiveClient
    ):
        names |= client.notification_names
    return sorted(names)


def _chosen_names(names: Any) -> list[str]:
    """The names entered, trimmed, each once; a name the server cannot send is left out."""
    kept = {name.strip() for name in names if isinstance(name, str)}
    return sorted(name for name in kept if 0 < len(name) <= MAX_NAME)


class FleetPushOptionsFlow(OptionsFlow):
    """Grace period, position interval; DeviceHive: when a quiet device is offline, and events."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and save the options (they apply at once, without a reload)."""
        if user_input is not None:
            if CONF_NOTIFICATION_EVENTS in user_input:
                user_input[CONF_NOTIFICATION_EVENTS] = _chosen_names(
                    user_input[CONF_NOTIFICATION_EVENTS]
                )
            return self.async_create_entry(data=user_input)
        seconds = selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=0,
                max=3600,
                unit_of_measurement="s",
                mode=selector.NumberSelectorMode.BOX,
            )
        )
        schema = vol.Schema(
            {
                vol.Required(CONF_GRACE_PERIOD, default=DEFAULT_GRACE_PERIOD): vol.All(
                    seconds, vol.Coerce(int)
                ),
                vol.Required(
                    CONF_MIN_POSITION_INTERVAL, default=DEFAULT_MIN_POSITION_INTERVAL
                ): vol.All(seconds, vol.Coerce(int)),
            }
        )
        if self.config_entry.data[CONF_HUB_KIND] == "devicehive":
            offline_after = vol.Required(CONF_OFFLINE_AFTER, default=OFFLINE_AFTER_MINUTES)
            events = vol.Optional(CONF_NOTIFICATION_EVENTS, default=[])
            names = selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=_notification_names(self.config_entry),
                    multiple=True,
                    custom_value=True,
                    sort=True,
                )
            )
            schema = schema.extend({offline_after: _MINUTES, events: names})
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )
