"""Configuration: a TOML file, overridden by `DLRECON_*` environment variables.

Built once in `main()` and passed down; nothing here reads the environment at import.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
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

from receiver import adapters, signatures


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


# --- polling (receiver/poll) ---

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def seconds(value: Any) -> Any:
    """A duration as seconds: a number of seconds, or text such as `90s`, `5m`, `2h`, `3d`."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use seconds, or 90s, 5m, 2h, 3d)")
        return float(match[1]) * _UNIT[match[2]]
    return value


Duration = Annotated[float, BeforeValidator(seconds), Field(ge=0)]


class PollerSettings(BaseModel):
    """`[poller]`: the poller process of `serve`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    max_in_flight: int = Field(default=16, ge=1, le=1024)


class KeyPollSettings(BaseModel):
    """`[providers.KEY.poll]`: how one provider key is polled (its presence turns polling on)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    schedule: list[Duration] = Field(default=[60, 300, 1800, 7200, 43200], min_length=1)
    horizon: Duration = 3 * 86400
    interval: Duration = 15.0
    batch_size: int = Field(default=100, ge=1, le=10000)
    page_size: int = Field(default=1000, ge=1, le=5000)
    list_min: int = Field(default=20, ge=0)
    list_margin: Duration = 600.0
    list_per_hour: float | None = Field(default=None, gt=0)
    rate_limit: float = Field(default=5.0, gt=0)
    burst: int = Field(default=1, ge=1)
    max_in_flight: int = Field(default=4, ge=1, le=256)
    connect_timeout: Duration = 5.0
    read_timeout: Duration = 15.0
    retries: int = Field(default=3, ge=0, le=10)
    backoff_base: Duration = 0.5
    backoff_max: Duration = 30.0
    retry_after_max: Duration = 300.0
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset: Duration = 30.0
    lease: Duration = 300.0
    failure_backoff_max: Duration = 3600.0


class ProviderSettings(BaseModel):
    """One provider key (`[providers.KEY]`). Extra keys are adapter options."""

    model_config = ConfigDict(extra="allow")
    _options: dict[str, Any] = PrivateAttr(default_factory=dict)
    _keys: tuple[str, ...] = PrivateAttr(default=())

    adapter: str | None = None
    verify: Literal["enforce", "quarantine", "off"] = "enforce"
    scheme: str | None = None
    signing_secrets: list[SecretStr] = []
    public_keys: list[str] = []
    signature_version: str | None = None
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
    api_secret: SecretStr | None = None
    # polling (receiver/poll): messages not final this long after their submit are polled
    poll_after: Duration = 600.0
    poll: KeyPollSettings | None = None

    @property
    def has_verification(self) -> bool:
        return bool(
            self.signing_secrets
            or self.public_keys
            or self.basic_auth
            or self.path_token
            or self.allow_ips
        )

    def signature_keys(self) -> tuple[str, ...]:
        """What the scheme verifies with: the public keys (Ed25519), else the secrets."""
        return cast(tuple[str, ...], self._private()["_keys"])

    def model_post_init(self, context: Any) -> None:
        # computed once at load: every callback reads both (a pydantic private attribute read
        # through `self._x` costs a `__getattr__` round; the private dict is a plain slot)
        private = self._private()
        private["_options"] = dict(self)  # a plain dict: settings are pickled to serve's children
        private["_keys"] = tuple(self.public_keys) or tuple(
            s.get_secret_value() for s in self.signing_secrets
        )

    def options(self) -> Mapping[str, Any]:
        """Everything the adapter may read (its own extra keys included), read-only."""
        return MappingProxyType(self._private()["_options"])

    def _private(self) -> dict[str, Any]:
        private = self.__pydantic_private__
        assert private is not None, "ProviderSettings has private attributes"
        return private


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    trusted_proxies: list[IpNetwork] = []
    shutdown_timeout: float = Field(default=10.0, gt=0)
    read_buffer_bytes: int = Field(default=16 * 1024, ge=4096)
    head_timeout: float = Field(default=20.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)


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
    batch_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    batch_delay_ms: float = Field(default=2.0, ge=0)
    queue_max: int = Field(default=20000, ge=1)
    queue_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
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
    poller: PollerSettings = PollerSettings()
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
            problem = adapters.get(name).check_options(provider.options()) or scheme_problem(
                provider, adapters.get(name).signature_scheme
            )
            if problem:
                raise ValueError(f"providers.{key}: {problem}")
            if provider.verify != "off" and not provider.has_verification:
                raise ValueError(
                    f"providers.{key}: no verification configured (signing_secrets, "
                    'basic_auth, path_token or allow_ips); set verify = "off" to accept '
                    "unverified callbacks"
                )
            if problem := _poll_problem(provider, name):
                raise ValueError(f"providers.{key}.poll: {problem}")
        return self

    def adapter_name(self, key: str) -> str:
        provider = self.providers[key]
        return provider.adapter or key


def scheme_problem(provider: ProviderSettings, adapter_scheme: str | None) -> str | None:
    """Why this key's signature check cannot work as configured, or None.

    Caught at start: a key that verifies nothing answers every callback 401, and providers
    retry for a while and then drop their reports.
    """
    known = ", ".join(sorted(signatures.SCHEMES))
    if provider.scheme is not None and provider.scheme not in signatures.SCHEMES:
        return f"unknown scheme {provider.scheme!r} (one of: {known})"
    keyed = bool(provider.signing_secrets or provider.public_keys)
    name = provider.scheme or (adapter_scheme if keyed else None)
    if name is None:
        if keyed:
            return f"signing_secrets/public_keys need a scheme: set scheme (one of: {known})"
        if provider.signature_version is not None:
            return "signature_version is set but no signature scheme is in use"
        return None
    spec = signatures.SCHEMES[name]
    other = "public_keys" if spec.keys == "signing_secrets" else "signing_secrets"
    if getattr(provider, other):
        return f"scheme {name!r} verifies with {spec.keys}, not {other}"
    if not getattr(provider, spec.keys):
        return f"scheme {name!r} needs {spec.keys}"
    bad = [k for k in provider.public_keys if signatures.public_key(k) is None]
    if bad:
        return "public_keys must be base64 Ed25519 public keys (32 bytes)"
    if spec.needs_public_url and not _absolute_url(provider.public_url):
        return (
            f"scheme {name!r} needs public_url: the https:// URL the provider calls "
            "(it signs that URL)"
        )
    version = provider.signature_version
    if version is not None and version not in spec.versions:
        accepted = ", ".join(spec.versions) or "none"
        return f"signature_version {version!r} is not one of scheme {name!r}'s ({accepted})"
    return None


def _absolute_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _poll_problem(provider: ProviderSettings, adapter_name: str) -> str | None:
    """Why a key cannot be polled as configured (no status API, a credential missing...)."""
    if provider.poll is None or not provider.poll.enabled:
        return None
    from receiver.adapters._poll import poll_adapter

    poll = poll_adapter(adapter_name)
    if poll is None:
        return f"adapter {adapter_name!r} has no status API to poll"
    if not provider.api_base_url:
        return "api_base_url is required for polling"
    missing = [name for name in poll.required if not provider.options().get(name)]
    if missing:
        return f"{adapter_name} polling needs {', '.join(missing)}"
    return None


def load(path: Path | str | None = None, settings_class: type[Settings] = Settings) -> Settings:
    """Read the TOML file (`path`, else `DLRECON_CONFIG`), then the environment over it, into
    `settings_class` (the composition root's, with the sections of every wing)."""
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
        return settings_class(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    except SettingsError as exc:  # an environment value that is not the JSON a list needs
        raise ConfigError(f"invalid configuration: {exc}") from None


def _describe(exc: ValidationError, path: Path | str | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if not key and error["type"] == "value_error":
            # our own model checks: the message starts with the key it is about
            lines.append(where + str(error["ctx"]["error"]))
        else:
            lines.append(f"{where}{key or '(top level)'}: {error['msg']}")
    if len(lines) == 1:
        return f"invalid configuration: {lines[0]}"
    return "invalid configuration:\n  " + "\n  ".join(lines)
