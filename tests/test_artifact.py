"""The one artifact loader: verified files, clear errors, safe archives."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sentiment_export import ARTIFACT_FORMAT_VERSION, ArtifactError, load_artifact, load_checkpoint
from sentiment_export import load_eager_model
from sentiment_export.artifact import archive as artifact_module
from sentiment_export.artifact.archive import pack_artifact
from sentiment_export.artifact.layout import OPTIONAL_ROLES, ROLE_FILENAMES
from sentiment_export.artifact.model_card import out_of_domain_rows
from sentiment_export.artifact.out_of_domain import SNIPPETS_TRAIN_SHA256, figures_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small LSTMs on a shared 2-core box


@pytest.fixture
def artifact_copy(exported_artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the session's artifact, free to break."""
    return Path(shutil.copytree(exported_artifact, tmp_path / exported_artifact.name))


def _rewrite_manifest(directory: Path, **changes: object) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


# --- a good artifact ---------------------------------------------------------------------------


def test_loads_a_directory_and_names_every_role(exported_artifact: Path) -> None:
    artifact = load_artifact(exported_artifact)
    assert artifact.root == exported_artifact
    assert artifact.manifest.to_dict()["format_version"] == ARTIFACT_FORMAT_VERSION
    for role, filename in ROLE_FILENAMES.items():
        assert artifact.file(role) == exported_artifact / filename
        assert artifact.file(role).is_file() or role in OPTIONAL_ROLES


def test_unknown_role_is_an_error(exported_artifact: Path) -> None:
    with pytest.raises(ArtifactError, match=r"unknown artifact file role 'tokenizer'.*known roles: torchscript"):
        load_artifact(exported_artifact).file("tokenizer")


def test_encoder_and_eager_model_match_the_checkpoint(exported_artifact: Path, small_checkpoint: Path) -> None:
    artifact = load_artifact(exported_artifact)
    checkpoint = load_checkpoint(small_checkpoint)
    texts = ["Great battery, awful screen.", "", "visit www.example.com 4 more 123"]
    ids = artifact.encoder().encode(texts)
    np.testing.assert_array_equal(ids, checkpoint.build_encoder().encode(texts))
    model = load_eager_model(artifact)
    assert not model.training
    with torch.no_grad():
        torch.testing.assert_close(model(torch.from_numpy(ids)), checkpoint.build_model()(torch.from_numpy(ids)), rtol=0, atol=0)


# --- a broken artifact: every error names the problem -----------------------------------------


def test_missing_file_is_named(artifact_copy: Path) -> None:
    (artifact_copy / "model.onnx").unlink()
    with pytest.raises(ArtifactError, match=r"model\.onnx \(onnx\) is missing"):
        load_artifact(artifact_copy)


def test_flipped_byte_is_named(artifact_copy: Path) -> None:
    path = artifact_copy / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"weights\.safetensors has sha256 [0-9a-f]{64}, the manifest says .*tampered"):
        load_artifact(artifact_copy)


def test_truncated_file_is_named(artifact_copy: Path) -> None:
    path = artifact_copy / "model.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtifactError, match=r"model\.pt has 100 bytes, the manifest says \d+ \(truncated"):
        load_artifact(artifact_copy)


def test_newer_format_version_names_both_versions(artifact_copy: Path) -> None:
    _rewrite_manifest(artifact_copy, format_version=ARTIFACT_FORMAT_VERSION + 1)
    with pytest.raises(ArtifactError, match=rf"format version {ARTIFACT_FORMAT_VERSION + 1}, newer .* reads \({ARTIFACT_FORMAT_VERSION}\); upgrade"):
        load_artifact(artifact_copy)


@pytest.mark.parametrize("found", [0, "1", None])
def test_unknown_format_version(artifact_copy: Path, found: object) -> None:
    _rewrite_manifest(artifact_copy, format_version=found)
    with pytest.raises(ArtifactError, match=rf"format version {found!r}; this sentiment_export reads"):
        load_artifact(artifact_copy)


def test_unlisted_file_is_rejected(artifact_copy: Path) -> None:
    (artifact_copy / "model.onnx.bak").write_bytes(b"old")
    with pytest.raises(ArtifactError, match=r"holds \['model\.onnx\.bak'\], not listed in manifest\.json"):
        load_artifact(artifact_copy)


def test_linked_file_is_rejected(artifact_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "vocab-elsewhere.txt"
    shutil.move(artifact_copy / "vocab.txt", outside)
    (artifact_copy / "vocab.txt").symlink_to(outside)
    with pytest.raises(ArtifactError, match=r"vocab\.txt is a link or not a regular file"):
        load_artifact(artifact_copy)


def test_missing_manifest_and_corrupt_manifest(artifact_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"does not exist"):
        load_artifact(tmp_path / "nope")
    (artifact_copy / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"manifest\.json is not valid JSON"):
        load_artifact(artifact_copy)
    (artifact_copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"has no manifest\.json"):
        load_artifact(artifact_copy)


def test_manifest_entry_outside_the_format_is_rejected(artifact_copy: Path) -> None:
    manifest = json.loads((artifact_copy / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    files["../model.onnx"] = files.pop("model.onnx")
    _rewrite_manifest(artifact_copy, files=files)
    with pytest.raises(ArtifactError, match=r"lists '\.\./model\.onnx' with role 'onnx', which is not a file of this format"):
        load_artifact(artifact_copy)


# --- packing and unpacking ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_pack_round_trip(artifact_copy: Path, tmp_path: Path, fmt: str) -> None:
    archive = pack_artifact(artifact_copy, fmt)
    assert archive == artifact_copy.with_name(f"{artifact_copy.name}.{fmt}")
    unpacked = load_artifact(archive, extract_to=tmp_path / "unpacked")
    assert unpacked.root == tmp_path / "unpacked" / artifact_copy.name
    assert unpacked.manifest.to_dict() == load_artifact(artifact_copy).manifest.to_dict()
    for role in set(ROLE_FILENAMES) - OPTIONAL_ROLES:
        assert unpacked.file(role).read_bytes() == (artifact_copy / ROLE_FILENAMES[role]).read_bytes()
    default = load_artifact(archive)  # into a temporary directory
    assert default.root.is_dir() and default.root != unpacked.root


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_a_packed_archive_is_readable_like_the_directory_files(exported_artifact: Path, tmp_path: Path, fmt: str) -> None:
    copy = Path(shutil.copytree(exported_artifact, tmp_path / exported_artifact.name))
    archive = pack_artifact(copy, fmt)
    assert stat.S_IMODE(archive.stat().st_mode) == stat.S_IMODE((exported_artifact / "model.onnx").stat().st_mode) == 0o644
    assert not list(tmp_path.glob(".*.tmp"))  # still written through a temporary file, renamed


def test_unpack_refuses_a_non_empty_target(artifact_copy: Path, tmp_path: Path) -> None:
    archive = pack_artifact(artifact_copy, "zip")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ArtifactError, match=r"the directory is not empty"):
        load_artifact(archive, extract_to=tmp_path / "busy")


def test_truncated_archive_is_an_artifact_error(artifact_copy: Path, tmp_path: Path) -> None:
    archive = pack_artifact(artifact_copy, "tar.gz")
    archive.write_bytes(archive.read_bytes()[:5000])
    with pytest.raises(ArtifactError, match=r"truncated or not a valid archive"):
        load_artifact(archive, extract_to=tmp_path / "out")


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_an_archive_that_would_unpack_too_large_is_refused_before_writing(tmp_path: Path, monkeypatch, fmt: str) -> None:
    monkeypatch.setattr(artifact_module, "MAX_UNPACKED_BYTES", 1 << 20)
    zeros = bytes(4 << 20)  # 4 MiB that compress to a few KiB: a small decompression bomb
    archive = tmp_path / f"bomb.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            zipped.writestr("artifact/model.onnx", zeros)
    else:
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo("artifact/model.onnx")
            info.size = len(zeros)
            tar.addfile(info, io.BytesIO(zeros))
    assert archive.stat().st_size < 100_000
    with pytest.raises(ArtifactError, match=r"would unpack to 4,194,304 bytes, more than the 1,048,576 allowed"):
        load_artifact(archive, extract_to=tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())


def test_an_archive_with_too_many_members_is_refused(artifact_copy: Path, tmp_path: Path, monkeypatch) -> None:
    archive = pack_artifact(artifact_copy, "zip")
    monkeypatch.setattr(artifact_module, "MAX_MEMBERS", 3)
    with pytest.raises(ArtifactError, match=r"members, more than an artifact's 3 at most"):
        load_artifact(archive, extract_to=tmp_path / "out")


def _tar(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        good = tarfile.TarInfo("artifact/manifest.json")
        good.size = 2
        archive.addfile(good, io.BytesIO(b"{}"))
        for member in members:
            archive.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    return path


def _tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = 4 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_tar_member("artifact/../../evil.txt"), r"'artifact/\.\./\.\./evil\.txt', which would be written outside"),
        (_tar_member("/tmp/evil.txt"), r"'/tmp/evil\.txt', which would be written outside"),
        (_tar_member("artifact/vocab.txt", tarfile.SYMTYPE, "/etc/passwd"), r"'artifact/vocab\.txt', a link"),
        (_tar_member("artifact/spec.json", tarfile.LNKTYPE, "artifact/manifest.json"), r"'artifact/spec\.json', a link"),
        (_tar_member("artifact/dev", tarfile.CHRTYPE), r"'artifact/dev', a device, fifo"),
        (_tar_member("artifact/fifo", tarfile.FIFOTYPE), r"'artifact/fifo', a device, fifo"),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_malicious_tar_is_refused_before_anything_is_written(tmp_path: Path, member: tarfile.TarInfo, message: str) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", [member])
    target = tmp_path / "deep" / "er" / "out"
    with pytest.raises(ArtifactError, match=message):
        load_artifact(archive, extract_to=target)
    assert list(target.iterdir()) == []  # not even the harmless first member
    assert not (tmp_path / "deep" / "evil.txt").exists()


def _zip(path: Path, name: str, mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("artifact/manifest.json", "{}")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        archive.writestr(info, "evil")
    return path


@pytest.mark.parametrize(
    ("name", "mode", "message"),
    [
        ("artifact/../../evil.txt", None, r"which would be written outside"),
        ("/tmp/evil.txt", None, r"which would be written outside"),
        ("artifact\\..\\..\\evil.txt", None, r"which would be written outside"),
        ("artifact/vocab.txt", stat.S_IFLNK | 0o777, r"'artifact/vocab\.txt', a link"),
        ("artifact/dev", stat.S_IFCHR | 0o644, r"'artifact/dev', a device, fifo"),
    ],
    ids=["dotdot", "absolute", "backslash", "symlink", "device"],
)
def test_malicious_zip_is_refused_before_anything_is_written(tmp_path: Path, name: str, mode: int | None, message: str) -> None:
    archive = _zip(tmp_path / "evil.zip", name, mode)
    target = tmp_path / "deep" / "er" / "out"
    with pytest.raises(ArtifactError, match=message):
        load_artifact(archive, extract_to=target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "deep" / "evil.txt").exists()


def test_a_file_that_is_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"x")
    with pytest.raises(ArtifactError, match=r"not a \.tar\.gz, \.tgz or \.zip archive"):
        load_artifact(path)


def test_readme_artifact_table_names_every_file_of_the_format() -> None:
    """The README's artifact table lists each file the format has, by the name the loader uses."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### The artifact"):readme.index("### What the checks guarantee")]
    missing = [name for name in ROLE_FILENAMES.values() if f"`{name}`" not in table]
    assert not missing, f"README's artifact table does not name {missing}"


def test_a_manifest_whose_parity_gate_failed_is_refused(exported_artifact: Path, tmp_path: Path) -> None:
    """An artifact exists only if its gate passed; a manifest that says otherwise was edited."""
    copy = Path(shutil.copytree(exported_artifact, tmp_path / "copy"))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["metrics"]["parity"]["passed"] = False
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"metrics/parity/passed: True was expected"):
        load_artifact(copy)


def test_model_card_describes_both_branches_of_a_two_branch_network(exported_artifact: Path) -> None:
    card = (exported_artifact / "MODEL_CARD.md").read_text(encoding="utf-8")
    config = load_artifact(exported_artifact).manifest.model.config
    assert config["ngram_dim"] > 0  # the test model has the bag-of-n-grams branch
    assert "two branches" in card and f"{config['ngram_buckets']:,} hashed bigram buckets" in card
    assert f"last {config['recurrent_steps']} tokens" in card
    assert "Amazon Reviews polarity format" in card


# --- archives whose members collide or cannot be read: one ArtifactError, before anything is written ---


def _zip_members(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("artifact/manifest.json", "{}")
        for name in names:
            archive.writestr(zipfile.ZipInfo(name), b"" if name.endswith("/") else b"data")
    return path


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["artifact/zz", "artifact/zz/inner"], r"'artifact/zz/inner' lies below 'artifact/zz', which is a file"),
        (["artifact/zz", "artifact/zz/"], r"directory entry 'artifact/zz' has the name of a file member"),
        (["artifact/zz/", "artifact/zz"], r"directory entry 'artifact/zz' has the name of a file member"),
        (["artifact/zz", "artifact/zz"], r"'artifact/zz' appears twice"),
    ],
    ids=["file-below-file", "dir-over-file", "file-over-dir", "twice"],
)
def test_zip_members_that_collide_are_refused(tmp_path: Path, names: list[str], message: str) -> None:
    with pytest.warns(UserWarning) if names[0] == names[1] else contextlib.nullcontext():  # zipfile warns on a duplicate
        archive = _zip_members(tmp_path / "collide.zip", names)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(archive, extract_to=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_tar_member_below_a_file_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "collide.tar.gz", [_tar_member("artifact/zz"), _tar_member("artifact/zz/inner")])
    with pytest.raises(ArtifactError, match=r"'artifact/zz/inner' lies below 'artifact/zz', which is a file"):
        load_artifact(archive, extract_to=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def _patch_last_member(path: Path, field: str, value: int) -> None:
    """Set ``field`` ("flags" or "method") of the archive's last member in its local and central headers."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.rindex(signature) + offset + (2 if field == "method" else 0)
        data[at:at + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def test_zip_member_with_an_unknown_compression_method_is_refused(tmp_path: Path) -> None:
    archive = _zip_members(tmp_path / "aes.zip", ["artifact/model.onnx"])
    _patch_last_member(archive, "method", 99)
    with pytest.raises(ArtifactError, match=r"'artifact/model\.onnx' compressed with method 99, which this reader does not know"):
        load_artifact(archive, extract_to=tmp_path / "out")


def test_encrypted_zip_member_is_refused(tmp_path: Path) -> None:
    archive = _zip_members(tmp_path / "secret.zip", ["artifact/model.onnx"])
    _patch_last_member(archive, "flags", 0x1)
    with pytest.raises(ArtifactError, match=r"'artifact/model\.onnx' encrypted; artifact archives are not encrypted"):
        load_artifact(archive, extract_to=tmp_path / "out")


@pytest.mark.parametrize("found", [True, 1.0])
def test_a_format_version_that_only_equals_1_is_refused(artifact_copy: Path, found: object) -> None:
    _rewrite_manifest(artifact_copy, format_version=found)
    with pytest.raises(ArtifactError, match=rf"format version {found!r}; this sentiment_export reads format version 1 only"):
        load_artifact(artifact_copy)


@pytest.mark.parametrize("kind", [str, float])
def test_a_file_size_that_is_not_a_json_integer_names_its_type(artifact_copy: Path, kind: type) -> None:
    manifest = json.loads((artifact_copy / "manifest.json").read_text(encoding="utf-8"))
    size = manifest["files"]["vocab.txt"]["size"]
    manifest["files"]["vocab.txt"]["size"] = kind(size)
    _rewrite_manifest(artifact_copy, files=manifest["files"])
    with pytest.raises(ArtifactError, match=rf"files/vocab\.txt/size: {kind(size)!r} is not of type 'integer'"):
        load_artifact(artifact_copy)


def test_a_hidden_file_is_unlisted_like_any_other(artifact_copy: Path) -> None:
    (artifact_copy / ".model.onnx.swp").write_bytes(b"x")
    with pytest.raises(ArtifactError, match=r"holds \['\.model\.onnx\.swp'\], not listed in manifest\.json"):
        load_artifact(artifact_copy)


def test_model_card_says_how_the_preset_does_outside_its_training_domain(exported_artifact: Path) -> None:
    card = (exported_artifact / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Outside its training domain" in card
    assert "Not measured for preset `tiny-test`" in card  # the test model's preset has no figures
    measured = out_of_domain_rows({"preset": "default", "data": {"train": {"sha256": SNIPPETS_TRAIN_SHA256}}})
    figures = figures_for("default", SNIPPETS_TRAIN_SHA256)
    assert figures and "| this preset | TF-IDF + LR |" in "\n".join(measured)
    assert all(f"{figure.tfidf_accuracy:.2%}" in "\n".join(measured) for figure in figures)
    other_data = out_of_domain_rows({"preset": "default", "data": {"train": {"sha256": "0" * 64}}})
    assert "Not measured for preset `default`" in "\n".join(other_data)  # same preset, other training file
