"""Configuration: a TOML file, overridden by `DLRECON_*` environment variables.

Built once in `main()` and passed down; nothing here reads the environment at import.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from receiver import adapters


class ConfigError(Exception):
    """The configuration is invalid: the message names the bad key."""


class Scope(enum.StrEnum):
    SEND = "send"
    READ = "read"
    FINANCE = "finance"
    ADMIN = "admin"


class ApiToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: SecretStr = Field(min_length=8)
    scopes: list[Scope]
    name: str | None = None


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[ApiToken] = []


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str
    password: SecretStr


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProviderSettings(BaseModel):
    """One provider key (`[providers.KEY]`). Extra keys are adapter options."""

    model_config = ConfigDict(extra="allow")
    _options: dict[str, Any] = PrivateAttr(default_factory=dict)

    adapter: str | None = None
    verify: Literal["enforce", "quarantine", "off"] = "enforce"
    scheme: str | None = None
    signing_secrets: list[SecretStr] = []
    timestamp_tolerance: int = Field(default=300, ge=1)
    allow_ips: list[IpNetwork] = []
    basic_auth: BasicAuth | None = None
    path_token: SecretStr | None = None
    public_url: str | None = None
    verify_token: SecretStr | None = None
    signature_method: Literal["md5hash", "md5", "sha1", "sha256", "sha512"] | None = None
    require_payload_hash: bool = True
    api_base_url: str | None = None
    api_token: SecretStr | None = None
    api_key: SecretStr | None = None
    account_sid: str | None = None
    auth_token: SecretStr | None = None

    @property
    def has_verification(self) -> bool:
        return bool(self.signing_secrets or self.basic_auth or self.path_token or self.allow_ips)

    def model_post_init(self, context: Any) -> None:
        # computed once: callbacks read the options on every request
        self._options = dict(self)

    def options(self) -> Mapping[str, Any]:
        """Everything the adapter may read (its own extra keys included), read-only."""
        return MappingProxyType(self._options)


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_timeout: float = Field(default=10.0, gt=0)


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SecretStr | None = None
    data_dir: Path | None = None
    pool_min: int = Field(default=2, ge=1)
    pool_max: int = Field(default=10, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    migrate_on_start: bool = True


class InboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_max: int = Field(default=500, ge=1)
    batch_delay_ms: float = Field(default=2.0, ge=0)
    queue_max: int = Field(default=20000, ge=1)
    concurrent_batches: int = Field(default=2, ge=1)
    commit_timeout: float = Field(default=5.0, gt=0)
    retry_after: int = Field(default=5, ge=1)


class ProcessorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    processes: int = Field(default=1, ge=0, le=16)
    nice: int = Field(default=0, ge=0, le=19)
    batch_size: int = Field(default=500, ge=1)
    idle_interval: float = Field(default=0.1, gt=0)


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(BaseSettings):
    """All of dlrecon's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="DLRECON_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    api: ApiSettings = ApiSettings()
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    inbox: InboxSettings = InboxSettings()
    processor: ProcessorSettings = ProcessorSettings()
    log: LogSettings = LogSettings()
    providers: dict[str, ProviderSettings] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment over file: the file's content arrives as init arguments
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _check_providers(self) -> Settings:
        for key, provider in self.providers.items():
            name = provider.adapter or key
            if name not in adapters.names():
                known = ", ".join(adapters.names())
                raise ValueError(
                    f"providers.{key}: no adapter {name!r} (set adapter to one of: {known})"
                )
            unknown = set(provider.model_extra or {}) - adapters.get(name).option_names
            if unknown:
                accepted = ", ".join(sorted(adapters.get(name).option_names)) or "none"
                raise ValueError(
                    f"providers.{key}: unknown key(s) {', '.join(sorted(unknown))} "
                    f"(adapter {name!r} options: {accepted})"
                )
            if provider.verify != "off" and not provider.has_verification:
                raise ValueError(
                    f"providers.{key}: no verification configured (signing_secrets, "
                    'basic_auth, path_token or allow_ips); set verify = "off" to accept '
                    "unverified callbacks"
                )
        return self

    def adapter_name(self, key: str) -> str:
        provider = self.providers[key]
        return provider.adapter or key


def load(path: Path | str | None = None) -> Settings:
    """Read the TOML file (`path`, else `DLRECON_CONFIG`), then the environment over it."""
    path = path or os.environ.get("DLRECON_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if os.environ.get("DATABASE_URL"):
        data.setdefault("database", {})["url"] = os.environ["DATABASE_URL"]
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    except SettingsError as exc:  # an environment value that is not the JSON a list needs
        raise ConfigError(f"invalid configuration: {exc}") from None


def _describe(exc: ValidationError, path: Path | str | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{where}{key}: {error['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
