"""The vendored web runtimes match the hashes pinned in scripts/vendor_web.py (offline)."""

import dataclasses
import importlib.util
import shutil
import sys

import pytest

from tests.helpers import ROOT


def vendor_web():
    spec = importlib.util.spec_from_file_location("vendor_web", ROOT / "scripts" / "vendor_web.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["vendor_web"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_committed_files_match_their_pins():
    v = vendor_web()
    for p in v.PACKAGES:
        v.check(p)  # raises on a missing or changed file
        for path in p.dest.iterdir():
            assert path.stat().st_size < v.MAX_FILE_BYTES, path
        assert (p.dest / "LICENSE").is_file()


def test_a_changed_file_is_refused(tmp_path):
    v = vendor_web()
    p = v.PACKAGES[0]
    copy = tmp_path / p.dest.name
    shutil.copytree(p.dest, copy)
    target = next(f for f in copy.iterdir() if f.name.endswith(".mjs"))
    target.write_bytes(target.read_bytes() + b"\n// tampered")
    with pytest.raises(v.VendorError, match="sha256"):
        v.check(dataclasses.replace(p, dest=copy))
