"""`redwatch integrity genkey/encrypt/decrypt` and `redwatch scan --key-env/--key-file`
end to end through the installed console script."""

import base64
import io
import stat
from pathlib import Path

import joblib
import pytest
from e2e_helpers import fast_config

pytestmark = pytest.mark.e2e


def _one_line_error(run, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert run.code == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("redwatch: error:")
    assert pattern in lines[0], lines[0]


def test_genkey_is_private_and_never_overwrites(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = cli("integrity", "genkey", "--out", "model.key")
    assert made.code == 0, made.stderr
    key_file = tmp_path / "model.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_text = key_file.read_text()
    assert len(base64.b64decode(key_text.strip(), validate=True)) == 32
    again = cli("integrity", "genkey", "--out", "model.key")
    _one_line_error(again, "already exists")
    assert key_file.read_text() == key_text


@pytest.fixture
def sealed(cli, tmp_path: Path) -> bytes:  # type: ignore[no-untyped-def]
    """model.bin (a little over 2 MiB: three 1 MiB chunks) encrypted with key file k1."""
    plain = bytes(range(256)) * 9000
    (tmp_path / "model.bin").write_bytes(plain)
    assert cli("integrity", "genkey", "--out", "k1").code == 0
    enc = cli("integrity", "encrypt", "model.bin", "--key-file", "k1")
    assert enc.code == 0, enc.stderr
    sealed = (tmp_path / "model.bin.enc").read_bytes()
    assert sealed.startswith(b"RWENC1\0")
    assert plain[:4096] not in sealed
    return sealed


def test_encrypt_decrypt_round_trip(cli, sealed: bytes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = (tmp_path / "model.bin").read_bytes()
    key_env = {"RW_MODEL_KEY": (tmp_path / "k1").read_text().strip()}
    dec = cli(
        "integrity", "decrypt", "model.bin.enc", "--out", "back.bin",
        "--key-env", "RW_MODEL_KEY", extra_env=key_env,
    )  # fmt: skip
    assert dec.code == 0, dec.stderr
    assert (tmp_path / "back.bin").read_bytes() == plain

    refused = cli("integrity", "decrypt", "model.bin.enc", "--out", "back.bin", "--key-file", "k1")
    _one_line_error(refused, "already exists; pass --force")
    (tmp_path / "back.bin").write_bytes(b"stale")
    forced = cli(
        "integrity", "decrypt", "model.bin.enc", "--out", "back.bin", "--key-file", "k1", "--force"
    )
    assert forced.code == 0, forced.stderr
    assert (tmp_path / "back.bin").read_bytes() == plain


def test_decrypt_fails_closed(cli, sealed: bytes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("integrity", "genkey", "--out", "k2").code == 0
    _one_line_error(
        cli("integrity", "decrypt", "model.bin.enc", "--out", "x1", "--key-file", "k2"),
        "wrong key",
    )
    flipped = bytearray(sealed)
    flipped[-100] ^= 0x01
    (tmp_path / "flipped.enc").write_bytes(bytes(flipped))
    _one_line_error(
        cli("integrity", "decrypt", "flipped.enc", "--out", "x2", "--key-file", "k1"),
        "failed authentication at chunk 2",
    )
    (tmp_path / "short.enc").write_bytes(sealed[:-5000])
    _one_line_error(
        cli("integrity", "decrypt", "short.enc", "--out", "x3", "--key-file", "k1"),
        "truncated",
    )
    _one_line_error(
        cli("integrity", "decrypt", "model.bin", "--out", "x4", "--key-file", "k1"),
        "not a redwatch encrypted file",
    )
    _one_line_error(cli("integrity", "encrypt", "model.bin", "--out", "y.enc"), "no key given")
    for name in ("x1", "x2", "x3", "x4", "y.enc"):
        assert not (tmp_path / name).exists(), name
    assert not list(tmp_path.glob(".*.part"))


def test_scan_encrypted_joblib_model(cli, gbm_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    assert cli("integrity", "genkey", "--out", "scan.key").code == 0
    sealed = cli("integrity", "encrypt", str(model), "--out", "model.enc", "--key-file", "scan.key")
    assert sealed.code == 0, sealed.stderr
    cfg = fast_config(tmp_path / "redwatch.yaml")
    args = [
        "scan",
        "model.enc",
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--probe",
        "evasion.noise",
        "--config",
        str(cfg),
        "--json",
        "--out",
        "out",
    ]

    _one_line_error(cli(*args), "is encrypted")
    key_env = {"RW_SCAN_KEY": (tmp_path / "scan.key").read_text()}
    run = cli(*args, "--key-env", "RW_SCAN_KEY", extra_env=key_env)
    assert run.code in (0, 1), run.stderr
    report = run.json()
    assert report["campaign"]["status"] == "completed"
    assert report["campaign"]["config"]["clean_accuracy"] > 0.9  # the real model was loaded
    assert {p["probe"]: p["status"] for p in report["probes"]}["evasion.noise"] == "ok"


def test_scan_refuses_an_encrypted_malicious_pickle(cli, gbm_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    marker = tmp_path / "payload-ran"
    buf = io.BytesIO()
    joblib.dump(joblib.load(model), buf)
    plain = buf.getvalue()
    evil = plain[:2] + f"cos\nsystem\n(Vtouch {marker}\ntR0".encode() + plain[2:]
    (tmp_path / "evil.joblib").write_bytes(evil)
    assert cli("integrity", "genkey", "--out", "k").code == 0
    assert (
        cli("integrity", "encrypt", "evil.joblib", "--out", "evil.enc", "--key-file", "k").code == 0
    )
    (tmp_path / "evil.joblib").unlink()
    run = cli("scan", "evil.enc", "--data", str(data), "--label", "diagnosis", "--key-file", "k")
    _one_line_error(run, "os.system")
    assert "refusing to load" in run.stderr
    assert not marker.exists()
