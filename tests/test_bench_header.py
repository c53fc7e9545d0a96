"""tools/bench_lib.py's machine header: it says when the VM takes freed memory back (free page reporting)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import bench_lib  # noqa: E402


def fake_virtio(root, devices):
    for i, (device, features) in enumerate(devices):
        d = root / f"virtio{i}"
        d.mkdir(parents=True)
        (d / "device").write_text(device + "\n")
        (d / "features").write_text(features + "\n")
    return root


def without_allocator_settings(monkeypatch):
    for name in bench_lib.ALLOCATOR_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_a_balloon_with_the_reporting_bit_is_named_in_the_header(tmp_path, monkeypatch):
    without_allocator_settings(monkeypatch)
    # Firecracker's balloon as this project's VMs show it: bits 1, 2, 5 and 7 set
    root = fake_virtio(tmp_path, [("0x0002", "0010001001"), ("0x0005", "0110010100000000")])
    assert bench_lib.free_page_reporting(root)
    lines = bench_lib.memory_lines(root, huge_pages=tmp_path / "no-huge-pages")
    assert lines[0] == "allocator settings in the environment: none"
    assert "free page reporting" in lines[1]


def test_a_balloon_without_the_reporting_bit_or_no_virtio_at_all_adds_no_line(tmp_path, monkeypatch):
    without_allocator_settings(monkeypatch)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1073741824")
    root = fake_virtio(tmp_path / "a", [("0x0005", "0110000100000000"), ("0x0001", "0000011111")])
    assert not bench_lib.free_page_reporting(root)
    assert not bench_lib.free_page_reporting(tmp_path / "missing")
    assert bench_lib.memory_lines(root, huge_pages=tmp_path / "no-huge-pages") == [
        "allocator settings in the environment: MALLOC_MMAP_THRESHOLD_=1073741824"]


def test_the_kernels_huge_page_mode_is_named_with_what_it_means_for_numpy_and_torch(tmp_path, monkeypatch):
    without_allocator_settings(monkeypatch)
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "0")
    enabled = tmp_path / "enabled"
    enabled.write_text("always [madvise] never\n")   # as Linux prints it, the mode in brackets
    assert bench_lib.huge_page_mode(enabled) == "madvise"
    lines = bench_lib.memory_lines(tmp_path / "no-virtio", huge_pages=enabled)
    assert lines == ["allocator settings in the environment: NUMPY_MADVISE_HUGEPAGE=0",
                     "transparent huge pages: madvise (NumPy asks for them on arrays of 4 MiB and up unless "
                     "NUMPY_MADVISE_HUGEPAGE=0; torch does not)"]
    enabled.write_text("[always] madvise never\n")
    assert bench_lib.memory_lines(tmp_path / "no-virtio", huge_pages=enabled)[1] == \
        "transparent huge pages: always (large arrays of both frameworks get them)"
    assert bench_lib.huge_page_mode(tmp_path / "missing") is None
