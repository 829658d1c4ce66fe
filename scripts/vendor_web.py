"""Vendor the web runtimes DigitLens serves itself: pinned npm tarballs, hashes checked.

    python scripts/vendor_web.py          # fetch, verify, extract (idempotent)
    python scripts/vendor_web.py --check  # verify the committed files only (no network)

Nothing is loaded from a CDN at run time: the app serves ONNX Runtime Web from
`static/vendor/` (Streamlit static serving) and the API server serves Swagger UI
from `server/vendor/`. The browser tests inject axe-core (the accessibility engine)
from `tests/e2e/vendor/`; the app never serves it. Each package is pinned by version
and by the sha512 of its npm tarball (the registry's `dist.integrity`), and every
extracted file by its sha256, so a changed upstream file fails loudly instead of shipping.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "https://registry.npmjs.org"
#: No vendored file may reach this size (a repository-wide limit on committed files).
MAX_FILE_BYTES = 20 * 1024 * 1024

#: The MIT licence text, for packages whose tarball names the licence but ships no file.
MIT_TEXT = """MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


@dataclass(frozen=True)
class Package:
    """One npm package: which files to keep (tarball path -> sha256) and where."""

    name: str
    version: str
    integrity: str  # sha512 of the tarball, as npm's `dist.integrity`
    files: dict[str, str]
    dest: Path
    licence_text: str | None = None  # written as LICENSE when the tarball has none
    #: Files stored gzip-compressed (as NAME.gz; the page inflates them itself):
    #: Streamlit's static serving sends files as they are, without compression.
    gzipped: tuple[str, ...] = ()


PACKAGES = (
    # The WASM-only build (no WebGL/WebGPU/JSEP): the ES-module bundle has the
    # Emscripten glue inlined, so the page needs it and the plain SIMD wasm only.
    # The "threaded" wasm runs single-threaded without cross-origin isolation.
    Package(
        name="onnxruntime-web",
        version="1.30.0",
        integrity="sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ==",
        files={
            "package/dist/ort.wasm.bundle.min.mjs": (
                "11e64bd8ffe11bd1a2a2f0d6275fdfbbba7262f0b76b99b53d228a8a22ef3d90"
            ),
            "package/dist/ort-wasm-simd-threaded.wasm": (
                "3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2"
            ),
        },
        dest=ROOT / "static" / "vendor" / "onnxruntime-web",
        licence_text=MIT_TEXT,  # package.json says "MIT"; the tarball has no LICENSE file
        gzipped=("ort-wasm-simd-threaded.wasm",),  # 14.2 MB -> 3.7 MB over the wire
    ),
    Package(
        name="swagger-ui-dist",
        version="5.35.0",
        integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        files={
            "package/swagger-ui-bundle.js": (
                "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2"
            ),
            "package/swagger-ui.css": (
                "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d"
            ),
            "package/favicon-32x32.png": (
                "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837"
            ),
            "package/LICENSE": "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
            "package/NOTICE": "0d20d1adef18aee3f40dd258172155521ce702ac445cb5f7b7d60ed32dad2fb2",
        },
        dest=ROOT / "server" / "vendor" / "swagger-ui-dist",
    ),
    # For the browser tests only (tests/e2e/test_accessibility_browser.py): injected into
    # each page of the app to audit it against WCAG 2.2 A/AA. MPL-2.0, licence kept.
    Package(
        name="axe-core",
        version="4.14.1",
        integrity="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        files={
            "package/axe.min.js": (
                "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
            ),
            "package/LICENSE": "af175b9d96ee93c21a036152e1b905b0b95304d4ae8c2c921c7609100ba8df7e",
            "package/LICENSE-3RD-PARTY.txt": (
                "4f8563870d0fca38bbc3e00b6f670cb7fa9f380ba9f26a7f7d1184a6b18b1653"
            ),
        },
        dest=ROOT / "tests" / "e2e" / "vendor" / "axe-core",
    ),
)


class VendorError(RuntimeError):
    """A download or a hash did not match what this script pins."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def integrity(data: bytes) -> str:
    """npm's `dist.integrity` string of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def tarball_url(p: Package) -> str:
    return f"{REGISTRY}/{p.name}/-/{p.name}-{p.version}.tgz"


def fetch(p: Package) -> bytes:
    """Download the pinned tarball and check its sha512."""
    with urllib.request.urlopen(tarball_url(p), timeout=120) as r:
        data = r.read()
    if integrity(data) != p.integrity:
        raise VendorError(f"{p.name}@{p.version}: tarball hash {integrity(data)} != pinned")
    return data


def extract(p: Package, tarball: bytes) -> list[Path]:
    """Write the pinned files (hash-checked) and the licence into `p.dest`."""
    p.dest.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member, expected in p.files.items():
            f = tar.extractfile(member)
            if f is None:
                raise VendorError(f"{p.name}: {member} missing from the tarball")
            data = f.read()
            if sha256(data) != expected:
                raise VendorError(f"{p.name}: {member} sha256 {sha256(data)} != pinned")
            if len(data) >= MAX_FILE_BYTES:
                raise VendorError(f"{p.name}: {member} is {len(data):,} bytes, over the limit")
            name = Path(member).name
            if name in p.gzipped:
                # mtime=0: the same bytes on every run, so git sees no change.
                out = p.dest / (name + ".gz")
                out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
            else:
                out = p.dest / name
                out.write_bytes(data)
            written.append(out)
    if p.licence_text is not None:
        (p.dest / "LICENSE").write_text(p.licence_text)
        written.append(p.dest / "LICENSE")
    (p.dest / "VERSION").write_text(f"{p.name}@{p.version} {tarball_url(p)}\n{p.integrity}\n")
    return written


def check(p: Package) -> None:
    """Verify the committed files against the pinned hashes (no network)."""
    for member, expected in p.files.items():
        name = Path(member).name
        path = p.dest / (name + ".gz" if name in p.gzipped else name)
        if not path.is_file():
            raise VendorError(f"{path} is missing: run python scripts/vendor_web.py")
        data = gzip.decompress(path.read_bytes()) if name in p.gzipped else path.read_bytes()
        if sha256(data) != expected:
            raise VendorError(f"{path} does not match its pinned sha256")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify committed files only")
    args = ap.parse_args(argv)
    try:
        for p in PACKAGES:
            if args.check:
                check(p)
                print(f"ok {p.name}@{p.version}")
                continue
            for path in extract(p, fetch(p)):
                print(f"{path.stat().st_size:>12,}  {path.relative_to(ROOT)}")
    except (VendorError, OSError) as exc:
        print(f"vendor_web: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
