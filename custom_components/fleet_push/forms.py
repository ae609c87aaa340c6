"""The forms of a hub kind, made from its declaration: setup, reconfigure, reauth, options."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from homeassistant.helpers import selector
import probatio as vol

from .const import (
    CONF_GRACE_PERIOD,
    CONF_MIN_POSITION_INTERVAL,
    CONF_STALE_AFTER,
    DEFAULT_GRACE_PERIOD,
    DEFAULT_MIN_POSITION_INTERVAL,
    DEFAULT_STALE_AFTER,
)
from .hubs.declaration import HubDeclaration, Identity, Setting, SettingType

MAX_NAME: Final = 128
"""The longest name a NAMES option keeps (a DeviceHive notification name's limit)."""
_HOST_SEPARATORS: Final = "/:@ ?#"


def _number(minimum: int, maximum: int, unit: str | None = None) -> Any:
    config = selector.NumberSelectorConfig(
        min=minimum, max=maximum, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return vol.All(selector.NumberSelector(config), vol.Coerce(int))


def _text(kind: selector.TextSelectorType) -> selector.TextSelector:
    return selector.TextSelector(selector.TextSelectorConfig(type=kind))


def _names(offered: Iterable[str]) -> selector.SelectSelector:
    config = selector.SelectSelectorConfig(
        options=sorted(offered), multiple=True, custom_value=True, sort=True
    )
    return selector.SelectSelector(config)


_VALIDATORS: Final[Mapping[SettingType, Callable[[Iterable[str]], Any]]] = {
    SettingType.HOST: lambda _: _text(selector.TextSelectorType.TEXT),
    SettingType.PORT: lambda _: _number(1, 65535),
    SettingType.URL: lambda _: _text(selector.TextSelectorType.URL),
    SettingType.TEXT: lambda _: _text(selector.TextSelectorType.TEXT),
    SettingType.SECRET: lambda _: _text(selector.TextSelectorType.PASSWORD),
    SettingType.FLAG: lambda _: selector.BooleanSelector(),
    SettingType.MINUTES: lambda _: _number(1, 1440, "min"),
    SettingType.NAMES: _names,
}
"""What a form shows for each kind of setting, and how it checks the value (names: those
offered)."""


def _validator(setting: Setting, offered: Iterable[str]) -> Any:
    return _VALIDATORS[setting.type](offered)


def _marker(setting: Setting, *, required: bool) -> vol.Marker:
    default = vol.UNDEFINED if setting.default is None else setting.default
    if isinstance(default, tuple):  # a list in the form (frozen in the declaration)
        default = list(default)
    if required:
        return vol.Required(setting.key, default=default)
    return vol.Optional(setting.key, default=default)


def setup_schema(declaration: HubDeclaration) -> vol.Schema:
    """The setup form: every setting."""
    return vol.Schema(
        {
            _marker(setting, required=setting.required): _validator(setting, ())
            for setting in declaration.settings
        }
    )


def reconfigure_schema(declaration: HubDeclaration) -> vol.Schema:
    """The reconfigure form: every setting; secrets left empty keep the stored ones."""
    return vol.Schema(
        {
            _marker(
                setting, required=setting.required and setting.type is not SettingType.SECRET
            ): _validator(setting, ())
            for setting in declaration.settings
        }
    )


def reauth_schema(declaration: HubDeclaration) -> vol.Schema:
    """The reauthentication form: the credentials only."""
    return vol.Schema(
        {
            _marker(setting, required=setting.required): _validator(setting, ())
            for setting in declaration.settings
            if setting.credential
        }
    )


def options_schema(declaration: HubDeclaration, offered: Mapping[str, Iterable[str]]) -> vol.Schema:
    """The options: what every hub has, position updates where it has positions, its own."""
    fields: dict[vol.Marker, Any] = {
        vol.Required(CONF_GRACE_PERIOD, default=DEFAULT_GRACE_PERIOD): _number(0, 3600, "s")
    }
    if declaration.positions:
        interval = vol.Required(CONF_MIN_POSITION_INTERVAL, default=DEFAULT_MIN_POSITION_INTERVAL)
        fields[interval] = _number(0, 3600, "s")
        stale_after = vol.Required(CONF_STALE_AFTER, default=DEFAULT_STALE_AFTER)
        fields[stale_after] = _number(1, 1440, "min")
    for option in declaration.options:
        fields[_marker(option, required=option.required)] = _validator(
            option, offered.get(option.key, ())
        )
    return vol.Schema(fields)


def input_errors(declaration: HubDeclaration, data: Mapping[str, Any]) -> dict[str, str]:
    """Errors a form shows before anything is sent to the hub."""
    for setting in declaration.settings:
        value = str(data.get(setting.key, "")).strip()
        if setting.type is SettingType.HOST and not _valid_host(value):
            return {setting.key: "invalid_host"}
        if setting.type is SettingType.URL and not _valid_url(value, declaration.url_schemes):
            return {setting.key: "invalid_url"}
    ways = declaration.sign_in
    if ways and not any(all(data.get(key) for key in way) for way in ways):
        return {"base": f"{declaration.kind}_sign_in_required"}
    return {}


def _valid_host(host: str) -> bool:
    return bool(host) and not any(char in host for char in _HOST_SEPARATORS)


def _valid_url(text: str, schemes: tuple[str, ...]) -> bool:
    try:
        url = urlsplit(text)
        return url.scheme in schemes and bool(url.hostname) and url.port != 0
    except ValueError:  # a broken IPv6 literal, a port out of range
        return False


def address_of(declaration: HubDeclaration, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where a hub known only by its address is (host and port), to refuse it twice."""
    if declaration.identity is not Identity.ADDRESS:
        return None
    kinds = (SettingType.HOST, SettingType.PORT)
    return {s.key: data.get(s.key) for s in declaration.settings if s.type in kinds}


def cleaned(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The input without empty optional fields, strings stripped."""
    return {
        key: value.strip() if isinstance(value, str) else value
        for key, value in user_input.items()
        if value not in ("", None)
    }


def chosen_names(declaration: HubDeclaration, options: Mapping[str, Any]) -> dict[str, Any]:
    """Options with every NAMES option's names trimmed, each once, none too long."""
    kept = dict(options)
    for option in declaration.options:
        if option.type is SettingType.NAMES and option.key in kept:
            names = {name.strip() for name in kept[option.key] if isinstance(name, str)}
            kept[option.key] = sorted(name for name in names if 0 < len(name) <= MAX_NAME)
    return kept


def without_secrets(declaration: HubDeclaration, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Values to pre-fill a form with: never a secret."""
    secrets = declaration.secrets
    return {key: value for key, value in (data or {}).items() if key not in secrets}
