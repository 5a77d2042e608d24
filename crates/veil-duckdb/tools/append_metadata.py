#!/usr/bin/env python3
"""Append DuckDB's extension metadata footer to a shared library.

DuckDB refuses to LOAD a file without it. The footer is a WebAssembly-style custom
section named `duckdb_signature` holding 512 bytes: eight 32-byte NUL-padded ASCII
fields (DuckDB reads them in reverse: magic "4", platform, C API version, extension
version, ABI type, then three unused), then 256 bytes of signature (zeros: unsigned,
so it loads only with `allow_unsigned_extensions`).

usage: append_metadata.py LIBRARY OUTPUT --extension-version v0.1.0 \
           --capi-version v1.2.0 --platform linux_amd64
"""
import argparse
import shutil
import sys

FIELD = 32


def field(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > FIELD:
        sys.exit(f"metadata field `{text}` is longer than {FIELD} bytes")
    return raw.ljust(FIELD, b"\0")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("library")
    p.add_argument("output")
    p.add_argument("--extension-version", required=True)
    p.add_argument("--capi-version", required=True)
    p.add_argument("--platform", required=True)
    a = p.parse_args()

    fields = ["", "", "", "C_STRUCT", a.extension_version, a.capi_version, a.platform, "4"]
    metadata = b"".join(field(f) for f in fields)
    signature = b"\0" * 256
    # Custom section 0, LEB128 length 531 (= 1 + 16 + 2 + 512), name length 16,
    # the name, LEB128 payload length 512.
    footer = b"\x00\x93\x04\x10duckdb_signature\x80\x04" + metadata + signature
    assert len(metadata) + len(signature) == 512

    shutil.copyfile(a.library, a.output)
    with open(a.output, "ab") as out:
        out.write(footer)


if __name__ == "__main__":
    main()
