"""The whole configuration: the receiver's settings, with the sections each wing adds.

A wing defines its sections as pydantic models in its own package; they are composed here, by
subclassing `receiver.settings.Settings` (and `ProviderSettings` for keys of `[providers.KEY]`),
so that one TOML file and one set of `DLRECON_*` variables configure every part."""

from __future__ import annotations

from pathlib import Path

from receiver import settings as receiver_settings
from receiver.retention import RetentionSettings
from reconcile import settings as reconcile_settings
from reconcile.oncall.settings import OncallSettings

ConfigError = receiver_settings.ConfigError


class ProviderSettings(
    receiver_settings.ProviderSettings, reconcile_settings.ProviderReconcileSettings
):
    """One `[providers.KEY]`: the receiver's keys, and reconciliation's (cost tolerances,
    stuck thresholds, the invoice layout)."""


class Settings(receiver_settings.Settings):
    """All of dlrecon's configuration."""

    reconcile: reconcile_settings.ReconcileSettings = reconcile_settings.ReconcileSettings()
    oncall: OncallSettings = OncallSettings()
    retention: RetentionSettings = RetentionSettings()
    providers: dict[str, ProviderSettings] = {}  # type: ignore[assignment]


def load(path: Path | str | None = None) -> Settings:
    """The configuration of `path` (else `DLRECON_CONFIG`) with the environment over it."""
    loaded = receiver_settings.load(path, Settings)
    assert isinstance(loaded, Settings)
    return loaded
