"""Signed artifacts and the known-answer checks: what a rewritten file (and its rewritten hash) runs into."""

from __future__ import annotations

import dataclasses

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from cpp_build import ci_requested
from model_file_edits import reembed
from sentiment_export import ArtifactError, SentimentModel, SignatureError, SigningKeyError, load_artifact
from sentiment_export.artifact.archive import pack_artifact
from sentiment_export.artifact.layout import MANIFEST_FILENAME, OPTIONAL_ROLES, ROLE_FILENAMES, SIGNATURE_FILENAME
from sentiment_export.artifact.manifest import file_table
from sentiment_export.artifact.signing import key_sha256, load_public_key, sign_artifact, verify_signature
from sentiment_export.cli.main import main
from sentiment_export.serving.known_answer import check_known_answers

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small LSTMs on a shared 2-core box

_REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _model_signing_installed() -> None:
    """The [sign] extra is part of [test]; without it these tests skip, and fail under CI."""
    try:
        import model_signing  # noqa: F401
    except ImportError as error:
        reason = f"model-signing is not installed ({error}); pip install -e '.[sign]'"
        if ci_requested(os.environ):
            pytest.fail(reason + " (CI is set, so the signing tests must run)", pytrace=False)
        pytest.skip(reason)


def _write_key_pair(directory: Path, name: str, private_key) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub"
    private.write_bytes(
        private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh P-256 key pair (private.pem, public.pub), made for this test only."""
    from cryptography.hazmat.primitives.asymmetric import ec

    return _write_key_pair(tmp_path, "signer", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def other_public_key(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives.asymmetric import ec

    return _write_key_pair(tmp_path, "other", ec.generate_private_key(ec.SECP256R1()))[1]


@pytest.fixture
def artifact_copy(exported_artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the session's artifact, free to break."""
    return Path(shutil.copytree(exported_artifact, tmp_path / exported_artifact.name))


@pytest.fixture
def signed_copy(artifact_copy: Path, keys: tuple[Path, Path]) -> Path:
    sign_artifact(artifact_copy, private_key=keys[0])
    return artifact_copy


def _rehash(directory: Path) -> None:
    """Rewrite manifest.json's sha256/size table to match the files: what a deliberate tamperer does."""
    path = directory / MANIFEST_FILENAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    table = file_table(directory, {entry["role"]: name for name, entry in manifest["files"].items()})
    manifest["files"] = {name: dataclasses.asdict(entry) for name, entry in table.items()}
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _swap_vocabulary_lines(directory: Path, first: str, second: str) -> None:
    """Swap two tokens' lines in vocab.txt (each then gets the other's id) and update the manifest's hash."""
    path = directory / "vocab.txt"
    lines = path.read_text(encoding="utf-8").split("\n")
    i, j = lines.index(first), lines.index(second)
    lines[i], lines[j] = lines[j], lines[i]
    path.write_text("\n".join(lines), encoding="utf-8")
    _rehash(directory)


def _reembed_vocabulary(directory: Path) -> None:
    """Rewrite model.pt so that its embedded vocab.txt is the directory's, with model.pt's record table
    (embedded and in manifest.json) rewritten to match: the attack made consistent."""
    vocabulary = (directory / "vocab.txt").read_text(encoding="utf-8")
    records = reembed(directory / "model.pt", lambda files: {**files, "vocab.txt": vocabulary})
    manifest = json.loads((directory / MANIFEST_FILENAME).read_text(encoding="utf-8"))
    manifest["torchscript"]["records"] = records
    (directory / MANIFEST_FILENAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    _rehash(directory)


# --- sign, then verify ----------------------------------------------------------------------


def test_signed_artifact_loads_with_its_key_and_the_signature_covers_every_file(signed_copy: Path, keys) -> None:
    check = verify_signature(signed_copy, public_key=keys[1])
    listed = json.loads((signed_copy / MANIFEST_FILENAME).read_text(encoding="utf-8"))["files"]
    assert set(check.files) == {MANIFEST_FILENAME, *listed} and SIGNATURE_FILENAME not in check.files
    assert check.key_sha256 == key_sha256(load_public_key(keys[1]))
    assert load_artifact(signed_copy, public_key=keys[1]).root == signed_copy
    model = SentimentModel.load(signed_copy, device="cpu", public_key=keys[1])
    assert [p.label for p in model.predict(["great", "terrible"])] == [p.label for p in SentimentModel.load(signed_copy, device="cpu").predict(["great", "terrible"])]


@pytest.mark.parametrize("name", sorted(name for role, name in ROLE_FILENAMES.items() if role not in OPTIONAL_ROLES))
def test_every_file_changed_after_signing_is_refused_even_with_its_hash_updated(signed_copy: Path, keys, name: str) -> None:
    path = signed_copy / name
    if name == MANIFEST_FILENAME:  # a changed byte that keeps it valid JSON (its own hash is not in it)
        path.write_bytes(path.read_bytes().replace(b'"tiny"', b'"tinz"', 1))
    else:
        _flip_byte(path)
        _rehash(signed_copy)
    with pytest.raises(SignatureError, match=rf"modified after signing: changed \[[^]]*'{re.escape(name)}'"):
        load_artifact(signed_copy, public_key=keys[1])


def test_sentiment_model_refuses_a_tampered_signed_artifact_before_any_session(signed_copy: Path, keys) -> None:
    _swap_vocabulary_lines(signed_copy, "great", "terrible")
    with pytest.raises(SignatureError, match=r"changed \['manifest\.json', 'vocab\.txt'\]"):
        SentimentModel.load(signed_copy, device="cpu", public_key=keys[1])


def test_a_file_added_after_signing_is_refused(signed_copy: Path, keys) -> None:
    (signed_copy / ".notes").write_text("a hidden file is unlisted like any other\n")
    for public_key in (None, keys[1]):  # the manifest check refuses it before the signature is read
        with pytest.raises(ArtifactError, match=r"holds \['\.notes'\], not listed in manifest\.json"):
            load_artifact(signed_copy, public_key=public_key)


def test_wrong_key_is_refused_naming_both_keys(signed_copy: Path, keys, other_public_key: Path) -> None:
    signer = key_sha256(load_public_key(keys[1]))[:16]
    with pytest.raises(SignatureError, match=rf"signed by another key \(sha256 {signer}\.\.\.\), not by .*other\.pub"):
        load_artifact(signed_copy, public_key=other_public_key)


def test_a_forged_bundle_naming_the_right_key_does_not_verify(signed_copy: Path, keys) -> None:
    path = signed_copy / SIGNATURE_FILENAME
    bundle = json.loads(path.read_text(encoding="utf-8"))
    signature = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    signature[-1] ^= 0x01
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    path.write_text(json.dumps(bundle), encoding="utf-8")
    with pytest.raises(SignatureError, match=r"model\.sig does not verify with .*signer\.pub"):
        load_artifact(signed_copy, public_key=keys[1])


def test_unsigned_artifact_is_refused_when_a_key_is_given(artifact_copy: Path, keys) -> None:
    load_artifact(artifact_copy)  # without a key: as before
    with pytest.raises(SignatureError, match=r"is not signed \(no model\.sig\), but a public key was given; sign it with"):
        load_artifact(artifact_copy, public_key=keys[1])


def test_resigning_with_a_new_key_rotates_it(signed_copy: Path, keys, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    new_private, new_public = _write_key_pair(tmp_path, "new", ec.generate_private_key(ec.SECP256R1()))
    sign_artifact(signed_copy, private_key=new_private)
    load_artifact(signed_copy, public_key=new_public)
    with pytest.raises(SignatureError, match="signed by another key"):
        load_artifact(signed_copy, public_key=keys[1])


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (None, "public", r"public key .* does not exist"),
        (b"not a key\n", "public", r"is not a PEM public key"),
        ("private", "public", r"this is a private key: pass its public half"),
        ("rsa", "public", r"is a .*RSA.*not an elliptic-curve key"),
        ("p192", "private", r"on the curve secp192r1; use one of secp256r1"),
    ],
)
def test_unusable_key_files_are_named(signed_copy: Path, keys, tmp_path: Path, content, kind: str, message: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = tmp_path / "key.pem"
    if content == "private":
        key = keys[0]
    elif content == "rsa":
        key = _write_key_pair(tmp_path, "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))[1]
    elif content == "p192":
        key = _write_key_pair(tmp_path, "p192", ec.generate_private_key(ec.SECP192R1()))[0]
    elif content is not None:
        key.write_bytes(content)
    with pytest.raises(SigningKeyError, match=message):
        if kind == "public":
            load_artifact(signed_copy, public_key=key)
        else:
            sign_artifact(signed_copy, private_key=key)


# --- packed archives ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_packed_archive_keeps_its_signature(signed_copy: Path, keys, fmt: str) -> None:
    archive = pack_artifact(signed_copy, fmt)  # a signed directory, packed
    load_artifact(archive, public_key=keys[1])
    model = SentimentModel.load(archive, device="cpu", public_key=keys[1])
    assert model.artifact.manifest.name == "tiny"


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_signing_an_archive_signs_inside_it(exported_artifact: Path, keys, fmt: str, tmp_path: Path) -> None:
    directory = Path(shutil.copytree(exported_artifact, tmp_path / "packed" / exported_artifact.name))
    archive = pack_artifact(directory, fmt)
    shutil.rmtree(directory)
    with pytest.raises(SignatureError, match="is not signed"):
        load_artifact(archive, public_key=keys[1])
    assert sign_artifact(archive, private_key=keys[0]) == archive
    if fmt == "zip":
        names = zipfile.ZipFile(archive).namelist()
    else:
        names = tarfile.open(archive).getnames()
    assert f"{exported_artifact.name}/{SIGNATURE_FILENAME}" in names
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]  # no scratch left behind
    load_artifact(archive, public_key=keys[1])


# --- no network -----------------------------------------------------------------------------

_OFFLINE_SCRIPT = r"""
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network disabled for this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse
from sentiment_export import SentimentModel, load_artifact, sign_artifact, check_known_answers
artifact, private, public = sys.argv[1:4]
sign_artifact(artifact, private_key=private)
loaded = load_artifact(artifact, public_key=public)
assert check_known_answers(loaded).passed
SentimentModel.load(artifact, device="cpu", public_key=public).predict(["fine"])
try:
    socket.getaddrinfo("localhost", 80)
except OSError as error:
    assert "network disabled" in str(error)
else:
    raise SystemExit("the socket patch is not in force")
print("torch imported:", "torch" in sys.modules)
"""


def test_sign_and_verify_make_no_network_call_and_import_no_torch(artifact_copy: Path, keys) -> None:
    """A fresh interpreter with the socket layer disabled from the start (imports included)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT, str(artifact_copy), str(keys[0]), str(keys[1])],
        capture_output=True, text=True, timeout=120, env=environment, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("torch imported: False")


# --- without a key: the copies in model.pt and the known answers --------------------------------


def test_swapped_vocabulary_with_updated_hash_is_refused_without_a_key(artifact_copy: Path) -> None:
    _swap_vocabulary_lines(artifact_copy, "great", "terrible")
    with pytest.raises(ArtifactError, match=r"model\.pt's embedded vocab\.txt differs from the directory's vocab\.txt"):
        load_artifact(artifact_copy)


def test_rewritten_manifest_metadata_is_refused_without_a_key(artifact_copy: Path) -> None:
    path = artifact_copy / MANIFEST_FILENAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["metrics"]["test"]["fp32"]["accuracy"] = 0.999
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"embedded manifest\.json differs from the directory's in \['metrics'\]"):
        load_artifact(artifact_copy)


@pytest.mark.filterwarnings("ignore:`torch.jit.(load|save)` is deprecated:DeprecationWarning")
def test_consistent_vocabulary_swap_fails_the_known_answers_and_verify(artifact_copy: Path, capsys) -> None:
    assert check_known_answers(load_artifact(artifact_copy)).passed
    _swap_vocabulary_lines(artifact_copy, "the", ".")
    _reembed_vocabulary(artifact_copy)
    report = check_known_answers(load_artifact(artifact_copy))  # every copy agrees now, so the load passes
    assert not report.passed and report.max_abs_diff > report.atol
    with pytest.raises(ArtifactError, match=r"(?s)known answers FAILED: \d+ texts .* worst: text \d+: stored"):
        report.raise_for_failures()
    assert main(["verify", "--torch-threads", "1", str(artifact_copy)]) == 1
    out = capsys.readouterr().out
    assert "parity passed" in out  # eager and exported models share the swapped encoder: only the stored answers catch it
    assert out.rstrip().endswith("verify: FAILED (model.onnx through the artifact's encoder no longer gives verification.json's probabilities)")


def test_a_changed_stored_probability_fails_the_known_answers(artifact_copy: Path) -> None:
    path = artifact_copy / "verification.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["eager_probabilities"][5] = min(1.0, record["eager_probabilities"][5] + 0.01) if record["eager_probabilities"][5] < 0.5 else record["eager_probabilities"][5] - 0.01
    path.write_text(json.dumps(record), encoding="utf-8")
    _rehash(artifact_copy)
    report = check_known_answers(load_artifact(artifact_copy))
    assert not report.passed and report.worst[0]["text_index"] == 5


@pytest.mark.parametrize("atol", [0, 1, -1e-5, True, "1e-5"])
def test_known_answer_tolerance_is_bounded(exported_artifact: Path, atol) -> None:
    with pytest.raises(ValueError, match=r"atol must be a number in \(0, 1\)"):
        check_known_answers(load_artifact(exported_artifact), atol=atol)


def test_reading_the_embedded_copies_unpickles_nothing(artifact_copy: Path) -> None:
    """A model.pt whose pickles would run code on unpickling has its records read as bytes only (and refused)."""
    path = artifact_copy / "model.pt"
    with zipfile.ZipFile(path) as archive:
        records = {info.filename: archive.read(info) for info in archive.infolist()}
    hostile = b"cos\nsystem\n(S'touch " + str(artifact_copy / "pwned").encode() + b"'\ntR."
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in records.items():
            archive.writestr(name, hostile if name.endswith(".pkl") else data)
    _rehash(artifact_copy)
    with pytest.raises(ArtifactError, match=r"model\.pt's records \[.*'data\.pkl'.*\] differ from its record table"):
        load_artifact(artifact_copy)  # the copies are read and compared first, then every record is hashed
    assert not (artifact_copy / "pwned").exists()


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_sign_info_and_verify_with_a_key(artifact_copy: Path, keys, other_public_key: Path, capsys) -> None:
    assert main(["info", str(artifact_copy)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("signed:        no")
    assert main(["sign", str(artifact_copy), "--private-key", str(keys[0])]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == str(artifact_copy / SIGNATURE_FILENAME)
    fingerprint = key_sha256(load_public_key(keys[1]))
    assert f"signed by key sha256 {fingerprint}" in out
    assert main(["info", str(artifact_copy)]) == 0
    assert f"signed:        yes, by key sha256 {fingerprint[:16]}... (not verified: pass --public-key)" in capsys.readouterr().out
    assert main(["verify", "--torch-threads", "1", str(artifact_copy), "--public-key", str(keys[1])]) == 0
    out = capsys.readouterr().out
    assert f"signature ok: every file, manifest.json included, is as signed by {keys[1]}" in out
    assert "known answers ok" in out and out.rstrip().endswith("verify: OK")
    assert main(["verify", str(artifact_copy), "--public-key", str(other_public_key)]) == 1
    assert "error: " in (err := capsys.readouterr().err) and "signed by another key" in err


def test_export_sign_with_signs_directory_and_archive(small_checkpoint: Path, small_test_file: Path, keys, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "artifacts"
    argv = ["export", "--checkpoint", str(small_checkpoint), "--test-file", str(small_test_file), "--artifacts-dir", str(out_dir),
            "--artifact-name", "signed", "--pack", "zip", "--torch-threads", "1", "--no-pt2", "--sign-with", str(keys[0])]
    assert main(argv) == 0
    directory = Path(capsys.readouterr().out.splitlines()[-1])
    load_artifact(directory, public_key=keys[1])
    load_artifact(directory.with_name(f"{directory.name}.zip"), public_key=keys[1])


def test_export_with_an_unusable_key_fails_before_exporting(small_checkpoint: Path, tmp_path: Path, capsys) -> None:
    argv = ["export", "--checkpoint", str(small_checkpoint), "--artifacts-dir", str(tmp_path / "out"), "--no-pt2", "--sign-with", str(tmp_path / "missing.pem")]
    assert main(argv) == 2
    assert "private key" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_the_signing_cost_benchmark_prints_its_table(exported_artifact: Path) -> None:
    """benchmarks/signing_cost.py runs end to end (one repeat; the figures themselves are not checked)."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.signing_cost", str(exported_artifact), "--repeats", "1"],
        capture_output=True, text=True, timeout=300, cwd=_REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "| step | median s | x SentimentModel.load |" in result.stdout and "| verify_signature |" in result.stdout
