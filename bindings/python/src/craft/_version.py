"""Which libcraft is loaded, and whether it is the one the binding was
built for."""

from __future__ import annotations

from typing import Tuple

from . import lowlevel as _ll
from ._errors import FormatVersion

__all__ = ["version", "version_info", "BUILT_FOR"]

#: (major, minor, patch, abi) of the headers the extension was built from.
BUILT_FOR: Tuple[int, int, int, int] = (
    _ll.CRAFT_VERSION_MAJOR, _ll.CRAFT_VERSION_MINOR,
    _ll.CRAFT_VERSION_PATCH, _ll.CRAFT_ABI_VERSION)


def check_loaded(abi: int, number: int) -> None:
    """Raises craft.FormatVersion unless a library of ABI ``abi`` and
    version number ``number`` can serve a binding built for BUILT_FOR: the
    ABI (the SONAME's number) must be the same and the library at least as
    new (a newer minor adds functions, never removes them)."""
    major, minor, patch, built_abi = BUILT_FOR
    built_number = major * 10000 + minor * 100 + patch
    if abi != built_abi:
        raise FormatVersion(
            "the loaded libcraft has ABI %d (libcraft.so.%d) but craft was "
            "built for ABI %d: rebuild the binding" % (abi, abi, built_abi))
    if number < built_number:
        raise FormatVersion(
            "the loaded libcraft is version %d but craft was built for %d: "
            "install a newer libcraft or rebuild the binding"
            % (number, built_number))


def version() -> str:
    """The loaded libcraft's version string ("0.1.0"), after checking that
    it matches the version the binding was built for
    (craft_abi_version()); raises craft.FormatVersion when it does not."""
    check_loaded(_ll.craft_abi_version(), _ll.craft_version()[0])
    return _ll.craft_version_string()


def version_info() -> Tuple[int, int, int]:
    """The loaded libcraft's (major, minor, patch)."""
    _, major, minor, patch = _ll.craft_version()
    return (major, minor, patch)
