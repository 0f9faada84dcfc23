"""Check a repaired Linux wheel: manylinux tag, and every shared library its extension modules
need is either vendored in the wheel (libgomp), one of the manylinux system libraries, or the
scipy-openblas32 library that the runtime dependency provides (never vendored: one OpenBLAS per
process). Usage: python check-wheel-libs.py WHEEL"""

import re
import sys
import tempfile
import zipfile
from pathlib import Path

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

# The manylinux policy's system libraries that a C++/OpenMP extension may link.
SYSTEM = re.compile(r"^(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux-x86-64|"
                    r"ld-linux-aarch64)\.so(\.\d+)*$")
PROVIDED_BY_DEPENDENCY = {"libscipy_openblas.so"}


def needed(path):
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                return [tag.needed for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]
    return []


def main(wheel):
    wheel = Path(wheel)
    tag = wheel.name.removesuffix(".whl").split("-")[-1]
    assert tag.startswith("manylinux_"), f"{wheel.name}: not a manylinux wheel"
    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(wheel).extractall(tmp)
        objects = [p for p in Path(tmp).rglob("*.so*") if p.is_file()]
        vendored = {p.name for p in objects if p.parent.name == "scalinglab.libs"}
        problems = []
        for obj in objects:
            for lib in needed(obj):
                if lib in vendored or SYSTEM.match(lib) or lib in PROVIDED_BY_DEPENDENCY:
                    continue
                problems.append(f"{obj.relative_to(tmp)} needs {lib}, neither vendored nor allowed")
        assert not problems, "\n".join(problems)
        assert any(name.startswith("libgomp") for name in vendored), f"libgomp not vendored: {vendored}"
        assert not any("openblas" in name for name in vendored), f"an OpenBLAS was vendored: {vendored}"
        core = [p for p in objects if p.name.startswith("_core")]
        assert len(core) == 1 and "libscipy_openblas.so" in needed(core[0]), "core does not link scipy's OpenBLAS"
        assert any(p.name == "LICENSE" for p in Path(tmp).rglob("LICENSE")), "LICENSE missing"
    print(f"{wheel.name}: {tag}; vendored {sorted(vendored)}; external: libscipy_openblas.so "
          "(from the scipy-openblas32 dependency) and manylinux system libraries only")


if __name__ == "__main__":
    main(sys.argv[1])
