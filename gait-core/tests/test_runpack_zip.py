"""The deterministic zip writer and the hostile-zip reader (runpack_regress_ci.md section 1.1)."""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from gait.errors import InvalidInputError, VerificationError
from gait.runpack import write_runpack_zip
from gait.runpack.zipio import (
    MAX_CENTRAL_DIRECTORY_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    PARALLEL_MIN_BYTES,
    open_runpack_archive,
    runpack_zip_bytes,
    unsafe_member_name,
)

from .runpack_zips import DEMO_ZIP, members_of, patch_central_entry, write_zip

MEMBERS = {
    "run.json": b'{"run_id":"run_x"}',
    "manifest.json": b"{}",
    "intents.jsonl": b"",
    "results.jsonl": b'{"a":1}\n',
    "refs.json": b"{}",
}


def test_writer_is_deterministic_and_sorted(tmp_path: Path) -> None:
    first = runpack_zip_bytes(MEMBERS)
    second = runpack_zip_bytes(dict(reversed(list(MEMBERS.items()))))
    assert first == second
    write_runpack_zip(tmp_path / "a.zip", MEMBERS)
    assert (tmp_path / "a.zip").read_bytes() == first
    assert stat.S_IMODE(os.stat(tmp_path / "a.zip").st_mode) == 0o600
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(MEMBERS)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert not info.is_dir()
            # Go's extended timestamp field: id 0x5455, flags 1, mtime 1980-01-01T00:00:00Z.
            assert info.extra == struct.pack("<HHBI", 0x5455, 5, 1, 315532800)
            assert archive.read(info) == MEMBERS[info.filename]


@pytest.mark.parametrize("name", ["../x", "/abs", "a\\b", "a/../b", "C:x", "", "dir/"])
def test_writer_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(InvalidInputError, match="unsafe runpack member name"):
        runpack_zip_bytes({name: b"x"})


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [("run.json", False), ("a/b.json", False), ("..", True), ("a/..", True), ("a..b", False)],
)
def test_unsafe_member_name(name: str, unsafe: bool) -> None:
    assert unsafe_member_name(name) is unsafe


def test_reader_reads_the_reference_zip() -> None:
    with open_runpack_archive(DEMO_ZIP) as archive:
        assert sorted(archive.members) == sorted(members_of(DEMO_ZIP))
        assert archive.read("run.json") == members_of(DEMO_ZIP)["run.json"]


def test_not_a_zip_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_text("not a zip")
    with pytest.raises(InvalidInputError, match="not a zip file"), open_runpack_archive(path):
        pass
    with pytest.raises(InvalidInputError, match="open zip"), open_runpack_archive(tmp_path / "no"):
        pass


@pytest.mark.parametrize("keep", [0.5, 0.9, -10, -1])
def test_truncated_zip_is_invalid_input(tmp_path: Path, keep: float) -> None:
    raw = DEMO_ZIP.read_bytes()
    cut = int(len(raw) * keep) if keep > 0 else len(raw) + int(keep)
    path = tmp_path / "cut.zip"
    path.write_bytes(raw[:cut])
    with pytest.raises(InvalidInputError), open_runpack_archive(path):
        pass


def test_duplicate_members_fail_verification(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "d.zip", [("run.json", b"a"), ("run.json", b"b"), ("x", b"")])
    with (
        pytest.raises(VerificationError, match=r"zip contains duplicate entries: run\.json$"),
        open_runpack_archive(path),
    ):
        pass


@pytest.mark.parametrize("name", ["../evil.json", "/etc/passwd", "a\\..\\b", "x/../../y"])
def test_unsafe_member_names_fail_verification(tmp_path: Path, name: str) -> None:
    path = write_zip(tmp_path / "u.zip", [("run.json", b"{}"), (name, b"x")])
    with pytest.raises(VerificationError, match="unsafe entry names"), open_runpack_archive(path):
        pass


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "m.zip", [(f"f{i}", b"") for i in range(MAX_MEMBERS + 1)])
    with pytest.raises(InvalidInputError, match="exceed the limit"), open_runpack_archive(path):
        pass


def test_oversized_central_directory_is_refused_before_parsing(tmp_path: Path) -> None:
    long_name = "n" * 60000
    count = MAX_CENTRAL_DIRECTORY_BYTES // 60000 + 1
    path = write_zip(tmp_path / "c.zip", [(f"{long_name}{i}", b"") for i in range(count)])
    with pytest.raises(InvalidInputError, match="central directory"), open_runpack_archive(path):
        pass


def test_zip64_end_records_are_refused(tmp_path: Path) -> None:
    raw = bytearray(write_zip(tmp_path / "s.zip", [("run.json", b"{}")]).read_bytes())
    end = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<H", raw, end + 10, 0xFFFF)  # total entries: "see the zip64 record"
    path = tmp_path / "zip64.zip"
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidInputError, match="zip64"), open_runpack_archive(path):
        pass


def test_declared_sizes_are_not_trusted(tmp_path: Path) -> None:
    raw = write_zip(tmp_path / "s.zip", [("run.json", b"{}")]).read_bytes()
    path = tmp_path / "big.zip"
    path.write_bytes(patch_central_entry(raw, "run.json", uncompressed=MAX_MEMBER_BYTES + 1))
    with open_runpack_archive(path) as archive:
        assert archive.read("run.json") == b"{}"


def test_a_zip_bomb_stops_at_the_ratio_limit(tmp_path: Path) -> None:
    # 8 MiB of zeros deflates to ~8 KiB: far past the ratio, stopped after about 1 MiB.
    path = write_zip(tmp_path / "bomb.zip", [("intents.jsonl", bytes(8 * 1024 * 1024))])
    assert path.stat().st_size < 64 * 1024
    with (
        open_runpack_archive(path) as archive,
        pytest.raises(InvalidInputError, match="inflates more than"),
    ):
        archive.sha256("intents.jsonl")


def test_inflated_bytes_are_counted_not_taken_from_the_header(tmp_path: Path) -> None:
    data = os.urandom(5000)
    path = write_zip(tmp_path / "r.zip", [("run.json", data)])
    with open_runpack_archive(path) as archive:
        with pytest.raises(InvalidInputError, match="exceeds max size"):
            archive.read("run.json", limit=4096 + 100)
        assert archive.read("run.json") == data


def test_a_header_that_understates_the_size_is_damage(tmp_path: Path) -> None:
    raw = write_zip(tmp_path / "s.zip", [("run.json", b"x" * 1000)]).read_bytes()
    path = tmp_path / "lie.zip"
    path.write_bytes(patch_central_entry(raw, "run.json", uncompressed=10))
    with (
        open_runpack_archive(path) as archive,
        pytest.raises(VerificationError, match=r"zip entry run\.json is damaged"),
    ):
        archive.read("run.json")


def test_a_damaged_member_fails_verification(tmp_path: Path) -> None:
    member = b'{"a":"' + b"b" * 500 + b'"}'
    raw = bytearray(write_zip(tmp_path / "s.zip", [("run.json", member)]).read_bytes())
    raw[30 + len("run.json") + 2] ^= 0xFF  # inside the deflate stream of the only member
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(raw))
    with (
        open_runpack_archive(path) as archive,
        pytest.raises(VerificationError, match="damaged"),
    ):
        archive.read("run.json")


def test_unsupported_compression_and_encryption_are_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", [("run.json", b"{}")], method=zipfile.ZIP_BZIP2)
    with (
        open_runpack_archive(path) as archive,
        pytest.raises(InvalidInputError, match="unsupported compression"),
    ):
        archive.read("run.json")
    raw = bytearray(write_zip(tmp_path / "e.zip", [("run.json", b"{}")]).read_bytes())
    central = raw.find(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # the "encrypted" flag bit
    encrypted = tmp_path / "enc.zip"
    encrypted.write_bytes(bytes(raw))
    with (
        open_runpack_archive(encrypted) as archive,
        pytest.raises(InvalidInputError, match="encrypted"),
    ):
        archive.read("run.json")


@pytest.mark.parametrize(("flag", "message"), [(0x40, "encrypted"), (0x20, "unsupported")])
def test_strong_encryption_and_patched_data_are_refused(
    tmp_path: Path, flag: int, message: str
) -> None:
    raw = bytearray(write_zip(tmp_path / "s.zip", [("run.json", b"{}")]).read_bytes())
    raw[raw.find(b"PK\x01\x02") + 8] |= flag
    path = tmp_path / "flagged.zip"
    path.write_bytes(bytes(raw))
    with open_runpack_archive(path) as archive, pytest.raises(InvalidInputError, match=message):
        archive.read("run.json")


def test_stored_members_are_read_and_checked(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    path = write_zip(tmp_path / "s.zip", [("run.json", data)], method=zipfile.ZIP_STORED)
    with open_runpack_archive(path) as archive:
        assert archive.read("run.json") == data
    path.write_bytes(patch_central_entry(path.read_bytes(), "run.json", crc=0))
    with (
        open_runpack_archive(path) as archive,
        pytest.raises(VerificationError, match=r"run\.json is damaged: bad CRC-32"),
    ):
        archive.read("run.json")


@pytest.mark.parametrize(
    ("offset", "message"),
    [(0, "bad local header signature"), (30, "local header names another file")],
)
def test_the_local_header_must_agree_with_the_directory(
    tmp_path: Path, offset: int, message: str
) -> None:
    raw = bytearray(write_zip(tmp_path / "s.zip", [("run.json", b"{}")]).read_bytes())
    raw[offset] ^= 0x20  # the only member's local header starts the file; its name is at 30
    path = tmp_path / "local.zip"
    path.write_bytes(bytes(raw))
    with open_runpack_archive(path) as archive, pytest.raises(VerificationError, match=message):
        archive.read("run.json")


def test_a_local_header_outside_the_archive_is_damage(tmp_path: Path) -> None:
    raw = write_zip(tmp_path / "s.zip", [("run.json", b"{}")]).read_bytes()
    path = tmp_path / "offset.zip"
    path.write_bytes(patch_central_entry(raw, "run.json", header_offset=0xFFFFFF00))
    with (
        open_runpack_archive(path) as archive,
        pytest.raises(VerificationError, match="local header offset outside the archive"),
    ):
        archive.read("run.json")


def test_an_unknown_zip_version_is_invalid_input(tmp_path: Path) -> None:
    raw = bytearray(write_zip(tmp_path / "s.zip", [("run.json", b"{}")]).read_bytes())
    raw[raw.find(b"PK\x01\x02") + 6] = 100  # "version needed to extract": 10.0
    path = tmp_path / "version.zip"
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidInputError, match="open zip"), open_runpack_archive(path):
        pass


@pytest.mark.parametrize(
    ("change", "message"),
    [(-2, "deflate stream ends early"), (+64, "data runs into the central directory")],
)
def test_a_compressed_size_that_lies_is_damage(tmp_path: Path, change: int, message: str) -> None:
    path = write_zip(tmp_path / "s.zip", [("run.json", os.urandom(1000).hex().encode())])
    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo("run.json").compress_size
    path.write_bytes(patch_central_entry(path.read_bytes(), "run.json", compressed=size + change))
    with open_runpack_archive(path) as archive, pytest.raises(VerificationError, match=message):
        archive.read("run.json")


def _large_members(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """Members big enough (and incompressible enough) to be read by two threads."""
    data = {
        "intents.jsonl": os.urandom(3 * PARALLEL_MIN_BYTES),
        "results.jsonl": os.urandom(2 * PARALLEL_MIN_BYTES),
        "run.json": b'{"run_id":"run_x"}',
    }
    return write_zip(tmp_path / "large.zip", data.items()), data


def test_members_read_together_match_their_bytes(tmp_path: Path) -> None:
    path, data = _large_members(tmp_path)
    with open_runpack_archive(path) as archive:
        hashed = archive.hash_members(list(data), keep={"results.jsonl"})
    assert {name: member.sha256 for name, member in hashed.items()} == {
        name: hashlib.sha256(content).hexdigest() for name, content in data.items()
    }
    assert hashed["results.jsonl"].data == data["results.jsonl"]
    assert hashed["intents.jsonl"].data is None


def test_the_first_failure_in_the_callers_order_is_raised(tmp_path: Path) -> None:
    """Both large members are damaged; whichever thread fails first, the caller's order
    decides which failure is reported."""
    path, _ = _large_members(tmp_path)
    raw = path.read_bytes()
    raw = patch_central_entry(raw, "intents.jsonl", crc=0)
    path.write_bytes(patch_central_entry(raw, "results.jsonl", crc=0))
    for names in (["intents.jsonl", "results.jsonl"], ["results.jsonl", "intents.jsonl"]):
        with (
            open_runpack_archive(path) as archive,
            pytest.raises(VerificationError, match=f"zip entry {names[0]} is damaged"),
        ):
            archive.hash_members(names)
