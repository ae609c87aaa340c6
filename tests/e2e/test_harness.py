"""What the end-to-end fixtures decide, without starting Home Assistant.

Which second Home Assistant they run against (or why they cannot), and what counts as a problem
in Home Assistant's log.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from .conftest import INSTALL_FAILED, REQUIREMENTS_STAMP, latest_environment, log_problems, pinned

REQUIREMENTS = """\
# comment: homeassistant==1.0
homeassistant==2026.11.0  # the newest
home-assistant-frontend==20261028.4
"""

LOG = """\
2026-12-05 17:57:10.934+00:00 WARNING (MainThread) [homeassistant.bootstrap] Skipping pip installation of required modules. This may cause issues
2026-12-05 17:57:10.936+00:00 WARNING (SyncWorker_0) [homeassistant.loader] We found a custom integration fleet_push which has not been tested by Home Assistant. This component might cause stability problems, be sure to disable it if you experience issues with Home Assistant
2026-12-05 17:57:11.096+00:00 ERROR (MainThread) [haffmpeg.core] FFmpeg fails [Errno 2] No such file or directory: 'ffmpeg'
2026-12-05 17:57:12.001 DEBUG (MainThread) [custom_components.fleet_push.coordinator] Connected to Navixy
2026-12-05 17:57:12.002 INFO (MainThread) [custom_components.fleet_push.coordinator] Connection to Navixy restored
"""  # noqa: E501
SETUP_FAILED = (
    "2026-12-05 17:57:11.203+00:00 ERROR (MainThread) [homeassistant.setup] Setup failed for "
    "'analytics': Unable to import component: No module named 'aiohasupervisor'"
)
DEPRECATION = (
    "2026-12-05 17:57:13.000 WARNING (MainThread) [homeassistant.helpers.frame] Detected that "
    "custom integration 'fleet_push' calls a deprecated function at "
    "custom_components/fleet_push/sensor.py, line 1: x(). This will stop working in Home "
    "Assistant 2027.5, please report it to the author of the 'fleet_push' custom integration"
)
OWN_ERROR = (
    "2026-12-05 17:57:14.000 ERROR (MainThread) [custom_components.fleet_push.coordinator] "
    "Unexpected error"
)


def test_a_clean_start_has_no_problem() -> None:
    assert log_problems(LOG) == []


def test_a_failed_setup_a_deprecation_and_an_error_of_fleetpush_are_problems() -> None:
    traceback = "Traceback (most recent call last):"
    log = f"{LOG}{SETUP_FAILED}\n{traceback}\n{DEPRECATION}\n{OWN_ERROR}\n"
    assert log_problems(log) == [SETUP_FAILED, DEPRECATION, OWN_ERROR]


def installed(tmp_path: Path) -> tuple[Path, Path]:
    """A requirements file, and a virtual environment scripts/setup installed it in."""
    requirements = tmp_path / "requirements_e2e_latest.txt"
    requirements.write_text(REQUIREMENTS, "utf-8")
    venv = tmp_path / "venv-latest"
    venv.mkdir()
    stamp = hashlib.sha256(requirements.read_bytes()).hexdigest()
    (venv / REQUIREMENTS_STAMP).write_text(f"{stamp}\n", "utf-8")
    return venv, requirements


def test_the_pinned_version_is_read_from_the_requirements(tmp_path: Path) -> None:
    _, requirements = installed(tmp_path)
    assert pinned(requirements, "homeassistant") == "2026.11.0"
    assert pinned(requirements, "home-assistant-frontend") == "20261028.4"
    with pytest.raises(ValueError, match="pins no playwright"):
        pinned(requirements, "playwright")


def test_the_second_environment_runs_its_own_hass_at_its_pinned_version(tmp_path: Path) -> None:
    venv, requirements = installed(tmp_path)
    environment = latest_environment(venv, requirements)
    assert environment.name == "latest"
    assert environment.hass == [str(venv / "bin" / "hass")]
    assert environment.version == "2026.11.0"


def test_a_failed_install_fails_the_test_with_what_setup_recorded(tmp_path: Path) -> None:
    venv, requirements = installed(tmp_path)
    (venv / INSTALL_FAILED).write_text("ERROR: No matching distribution\n", "utf-8")
    with pytest.raises(pytest.fail.Exception, match="No matching distribution"):
        latest_environment(venv, requirements)


def test_an_environment_installed_from_other_requirements_fails_the_test(tmp_path: Path) -> None:
    venv, requirements = installed(tmp_path)
    requirements.write_text(REQUIREMENTS.replace("2026.11.0", "2026.12.0"), "utf-8")
    with pytest.raises(pytest.fail.Exception, match="run scripts/setup"):
        latest_environment(venv, requirements)


def test_a_missing_environment_fails_the_test(tmp_path: Path) -> None:
    _, requirements = installed(tmp_path)
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        latest_environment(tmp_path / "nowhere", requirements)
