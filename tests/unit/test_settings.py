import re
from pathlib import Path

import pytest
from click.testing import CliRunner

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
    """docs/configuration.md lists every key of the settings model."""
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

    missing = [k for k in keys(settings.Settings, "") if f"`{k.split('.')[-1]}`" not in text]
    missing += [
        k
        for k in keys(settings.ProviderSettings, "providers.KEY.")
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
