"""The rest: block of a customer config and where credentials come from (never the YAML)."""

from __future__ import annotations

import pytest
import yaml

from kinvolved_assets.customers import validate_customer_config
from kinvolved_assets.generator.config import suggested_config
from kinvolved_assets.rest.config import REPO_ROOT, CredentialsError, resolve_credentials

SECRET = "Ab3-very-secret-value"


def _write(tmp_path, **overrides):
    config = suggested_config("restco", "tiny", 7, 2026)
    config.update(flow="oneroster_rest", rest={
        "base_url": "https://sis.example.org", "token_url": "https://sis.example.org/oauth/token",
        "credentials_env": {"client_id": "RESTCO_ID", "client_secret": "RESTCO_SECRET"}})
    for key, value in overrides.items():
        if key == "rest":
            config["rest"] = {**config["rest"], **value}
        else:
            config[key] = value
    path = tmp_path / "restco.yaml"
    path.write_text(yaml.safe_dump(config))
    return validate_customer_config(path)


def test_valid_block_has_defaults(tmp_path):
    config, errors = _write(tmp_path)
    assert errors == [] and config.rest.version == "1.1" and config.rest.page_size == 1000
    assert len(config.rest.entities) == 9


@pytest.mark.parametrize("rest, where, words", [
    ({"client_secret": SECRET}, "rest.client_secret", "unknown key"),
    ({"credentials_env": {"client_id": "RESTCO_ID", "client_secret": SECRET}},
     "rest.credentials_env.client_secret",
     "must name an environment variable"),
    ({"base_url": "http://sis.example.org"}, "rest.base_url", "must use https"),
    ({"base_url": f"https://user:{SECRET}@sis.example.org"}, "rest.base_url",
     "may not carry a user or password"),
    ({"token_url": None}, "rest", "token_url is required"),
    ({"entities": ["users", "grades"]}, "rest.entities", "unknown entity 'grades'"),
    ({"version": "1.0"}, "rest.version", "1.1"),
    ({"page_size": 0}, "rest.page_size", "greater than or equal to 1"),
])
def test_bad_rest_blocks_name_the_key_and_never_the_secret(tmp_path, rest, where, words):
    config, errors = _write(tmp_path, rest=rest)
    assert config is None and len(errors) == 1, errors
    text = str(errors[0])
    assert errors[0].key == where and words in text, text
    assert SECRET not in text


def test_flow_and_rest_block_go_together(tmp_path):
    config, errors = _write(tmp_path, flow="oneroster_csv")
    assert config is None and "flow oneroster_rest needs a rest: block" in str(errors[0])


def test_credentials_come_from_the_environment_or_a_private_secrets_file(tmp_path, monkeypatch):
    config, _ = _write(tmp_path)
    monkeypatch.delenv("RESTCO_ID", raising=False)
    monkeypatch.delenv("RESTCO_SECRET", raising=False)
    monkeypatch.delenv("KINVOLVED_SECRETS_FILE", raising=False)
    with pytest.raises(CredentialsError, match=r"RESTCO_ID \(rest.credentials_env.client_id\) is not set"):
        resolve_credentials("restco", config.rest)
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text(f"# restco\nRESTCO_ID=abc\nRESTCO_SECRET={SECRET}\n")
    monkeypatch.setenv("KINVOLVED_SECRETS_FILE", str(secrets_file))
    secrets_file.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by group or others") as err:
        resolve_credentials("restco", config.rest)
    assert SECRET not in str(err.value)
    secrets_file.chmod(0o600)
    credentials = resolve_credentials("restco", config.rest)
    assert (credentials.client_id, credentials.client_secret) == ("abc", SECRET)
    assert SECRET not in repr(credentials) and SECRET not in str(credentials)
    monkeypatch.setenv("RESTCO_SECRET", "from-env")
    assert resolve_credentials("restco", config.rest).client_secret == "from-env"
    monkeypatch.setenv("KINVOLVED_SECRETS_FILE", str(REPO_ROOT / "secrets.env"))
    monkeypatch.delenv("RESTCO_SECRET")
    with pytest.raises(CredentialsError, match="inside the repository"):
        resolve_credentials("restco", config.rest)
