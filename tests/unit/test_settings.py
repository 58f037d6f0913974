import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlrecon import settings as composed
from dlrecon.cli import cli
from receiver import settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dlrecon.toml"
    path.write_text(text)
    return path


def test_file_then_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        """
[server]
port = 9000
[providers.hellio]
signing_secrets = ["old", "new"]
[providers.geniq_sg]
adapter = "geniq"
path_token = "long-random-token"
[providers.acme]
adapter = "generic"
verify = "off"
status_field = "state"
""",
    )
    monkeypatch.setenv("DLRECON_SERVER__PORT", "9100")
    monkeypatch.setenv("DLRECON_PROVIDERS__HELLIO__VERIFY", "quarantine")
    s = settings.load(path)
    assert s.server.port == 9100
    assert s.providers["hellio"].verify == "quarantine"
    assert [x.get_secret_value() for x in s.providers["hellio"].signing_secrets] == ["old", "new"]
    assert s.adapter_name("geniq_sg") == "geniq"
    assert s.adapter_name("hellio") == "hellio"
    assert s.providers["acme"].options()["status_field"] == "state"


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert settings.load().database.url.get_secret_value() == "postgresql://u@h/db"


def test_secrets_are_not_printed(tmp_path: Path) -> None:
    s = settings.load(write(tmp_path, '[providers.hellio]\nsigning_secrets = ["s3cr3t-value"]\n'))
    assert "s3cr3t-value" not in repr(s)
    assert "s3cr3t-value" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[server]\nprot = 1\n", "server.prot"),
        ("[server]\nport = 'x'\n", "server.port"),
        ("[providers.acme]\nverify = 'maybe'\n", "providers.acme.verify"),
        ("[providers.acme]\nadapter = 'geniq'\n", "providers.acme"),
        ("[api]\ntokens = [{ token = 'short', scopes = ['read'] }]\n", "api.tokens.0.token"),
    ],
)
def test_invalid_file_names_the_key_and_exits_2(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(settings.ConfigError, match=key.replace(".", r"\.")):
        settings.load(path)
    result = CliRunner().invoke(cli, ["--config", str(path), "migrate"])
    assert result.exit_code == 2
    assert key in result.output


def test_bad_toml_and_missing_file_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[server\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "migrate"])
    assert result.exit_code == 2 and "invalid TOML" in result.output
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "migrate"])
    assert result.exit_code == 2 and "not found" in result.output


def test_documented_keys_match_the_model() -> None:
    """docs/configuration.md lists every key of the settings model (as composed)."""
    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()

    def keys(model: type, prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, settings.BaseModel):
                out += keys(annotation, f"{prefix}{name}.")
            else:
                out.append(f"{prefix}{name}")
        return out

    missing = [k for k in keys(composed.Settings, "") if f"`{k.split('.')[-1]}`" not in text]
    missing += [
        k
        for k in keys(composed.ProviderSettings, "providers.KEY.")
        if f"`{k.split('.')[-1]}`" not in text
    ]
    assert not missing, f"undocumented configuration keys: {missing}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[providers.acme]\nverify = 'off'\n", "no adapter 'acme'"),
        (
            "[providers.geniq]\nverify = 'off'\nallowed_ips = ['10.0.0.0/8']\n",
            "unknown key(s) allowed_ips",
        ),
        (
            "[providers.hellio]\nsigning_secrets = ['s']\ntimestamp_tolerence = 60\n",
            "unknown key(s) timestamp_tolerence",
        ),
        (
            "[providers.vonage]\nsigning_secrets = ['s']\nsignature_method = 'sha3'\n",
            "providers.vonage.signature_method",
        ),
    ],
)
def test_typos_and_unknown_adapters_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(settings.ConfigError, match=re.escape(message)):
        settings.load(write(tmp_path, text))


def test_adapter_options_are_accepted(tmp_path: Path) -> None:
    s = settings.load(
        write(
            tmp_path,
            "[providers.k]\nadapter = 'kannel'\npath_token = 'long-random-token'\nid_format = 'hex'\n",
        )
    )
    assert s.providers["k"].options()["id_format"] == "hex"


def test_malformed_environment_json_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLRECON_API__TOKENS", "not json")
    with pytest.raises(settings.ConfigError, match="invalid configuration"):
        settings.load()
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 2


TELNYX_PUBLIC = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="  # a valid Ed25519 public key


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[providers.acme]\nadapter = 'generic'\nscheme = 'standard_webhooks'\nsigning_secrets = ['whsec_x']\n",
            "providers.acme: unknown scheme 'standard_webhooks' (one of: bird, hellio,",
        ),
        (
            "[providers.acme]\nadapter = 'generic'\nscheme = 'plivo'\nsigning_secrets = ['token']\n",
            "providers.acme: scheme 'plivo' needs public_url",
        ),
        (
            "[providers.twilio]\nsigning_secrets = ['auth-token']\n",
            "providers.twilio: scheme 'twilio' needs public_url",
        ),
        (
            "[providers.twilio]\nsigning_secrets = ['auth-token']\npublic_url = '/v1/callbacks/twilio'\n",
            "providers.twilio: scheme 'twilio' needs public_url",
        ),
        (
            "[providers.acme]\nadapter = 'generic'\nscheme = 'standard-webhooks'\npath_token = 'long-random-token'\n",
            "providers.acme: scheme 'standard-webhooks' needs signing_secrets",
        ),
        (
            "[providers.tx]\nadapter = 'generic'\nscheme = 'telnyx'\nallow_ips = ['192.0.2.0/24']\n",
            "providers.tx: scheme 'telnyx' needs public_keys",
        ),
        (
            "[providers.tx]\nadapter = 'generic'\nscheme = 'telnyx'\npublic_keys = ['bm90IGEga2V5']\n",
            "providers.tx: public_keys must be base64 Ed25519 public keys (32 bytes)",
        ),
        (
            f"[providers.tx]\nadapter = 'generic'\nscheme = 'telnyx'\npublic_keys = ['{TELNYX_PUBLIC}']\nsigning_secrets = ['s']\n",
            "providers.tx: scheme 'telnyx' verifies with public_keys, not signing_secrets",
        ),
        (
            "[providers.acme]\nadapter = 'generic'\nsigning_secrets = ['whsec_x']\n",
            "providers.acme: signing_secrets/public_keys need a scheme",
        ),
        (
            "[providers.hellio]\nsigning_secrets = ['s']\nsignature_version = 'v3'\n",
            "providers.hellio: signature_version 'v3' is not one of scheme 'hellio''s (v2, v1)",
        ),
        (
            "[providers.meta]\nsigning_secrets = ['s']\nsignature_version = 'v1'\n",
            "providers.meta: signature_version 'v1' is not one of scheme 'meta''s (none)",
        ),
        (
            "[providers.geniq]\npath_token = 'long-random-token'\nsignature_version = 'v2'\n",
            "providers.geniq: signature_version is set but no signature scheme is in use",
        ),
        (
            "[providers.mb]\nadapter = 'generic'\nscheme = 'messagebird'\nsigning_secrets = ['k']\n",
            "providers.mb: scheme 'messagebird' needs public_url",
        ),
    ],
)
def test_schemes_that_cannot_work_are_refused_at_start(
    tmp_path: Path, text: str, problem: str
) -> None:
    """Issue 15: such a key used to start and then answer every callback 401."""
    path = write(tmp_path, text)
    with pytest.raises(settings.ConfigError, match=re.escape(problem)):
        settings.load(path)
    for command in ("serve", "migrate"):
        result = CliRunner().invoke(cli, ["--config", str(path), command])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and problem in lines[0], result.output


def test_schemes_configured_as_they_need_load(tmp_path: Path) -> None:
    s = settings.load(
        write(
            tmp_path,
            f"""
[providers.hellio]
signing_secrets = ["s"]
signature_version = "v1"
[providers.twilio]
signing_secrets = ["auth-token", "shared-key"]
public_url = "https://dlr.example.com/v1/callbacks/twilio?token=abc"
[providers.plivo]
adapter = "generic"
scheme = "plivo"
signing_secrets = ["auth-token"]
public_url = "https://dlr.example.com/v1/callbacks/plivo"
signature_version = "v2"
[providers.telnyx]
adapter = "generic"
scheme = "telnyx"
public_keys = ["{TELNYX_PUBLIC}"]
[providers.svix]
adapter = "generic"
scheme = "svix"
signing_secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
[providers.twilio_token_only]
adapter = "twilio"
path_token = "long-random-token"
""",
        )
    )
    assert s.providers["telnyx"].signature_keys() == (TELNYX_PUBLIC,)
    assert s.providers["plivo"].signature_keys() == ("auth-token",)
    assert s.providers["hellio"].options()["signature_version"] == "v1"


def test_client_address() -> None:
    from ipaddress import ip_network

    from receiver.verification import client_address

    proxies = [ip_network("10.0.0.0/8"), ip_network("::1/128")]
    assert client_address("192.0.2.1", ["203.0.113.9"], []) == "192.0.2.1"
    assert client_address("192.0.2.1", ["203.0.113.9"], proxies) == "192.0.2.1"  # not a proxy
    assert client_address("10.0.0.1", ["203.0.113.9"], proxies) == "203.0.113.9"
    assert (
        client_address("10.0.0.1", ["1.1.1.1, 203.0.113.9", "10.2.2.2"], proxies) == "203.0.113.9"
    )
    assert client_address("::1", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert client_address("10.0.0.1", ["203.0.113.9:8080"], proxies) == "203.0.113.9"
    assert client_address("10.0.0.1", ["unknown"], proxies) is None
    assert client_address("10.0.0.1", [], proxies) == "10.0.0.1"
    assert client_address("10.0.0.1", ["10.3.3.3"], proxies) == "10.3.3.3"  # all trusted
