"""Build of the craft Python package: the SWIG-generated craft.lowlevel
extension and the pure-Python craft package on top of it.

Two ways to get libcraft into the extension, chosen with the environment
variable CRAFT_PYTHON_LIBCRAFT:

  bundled (default)  compile libcraft's C sources (../../src) into the
                     extension: nothing to install first, and the wheel
                     works on any machine of the same platform.
  system             link the libcraft.so.1 that pkg-config finds
                     (`pkg-config craft`), wrapping its installed headers:
                     for distributions that ship libcraft on its own.

Either way SWIG (`swig -python -threads`) regenerates the wrapper from the
headers at every build whose inputs changed; the generated files go to the
build directory only and are never edited or committed.
"""

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
EXT_DIR = HERE / "ext"
ROOT = HERE.parent.parent  # the craft source tree
# Library sources: every directory of src/ but these (test support and
# programs, never part of libcraft.so).
NOT_LIBRARY = {"sim", "tools"}


def die(msg):
    sys.stderr.write("craft setup: %s\n" % msg)
    raise SystemExit(1)


def mode():
    m = os.environ.get("CRAFT_PYTHON_LIBCRAFT", "bundled").strip() or "bundled"
    if m not in ("bundled", "system"):
        die("CRAFT_PYTHON_LIBCRAFT must be 'bundled' or 'system', not %r" % m)
    return m


def pkg_config(*args):
    exe = os.environ.get("PKG_CONFIG", "pkg-config")
    try:
        out = subprocess.run([exe, *args, "craft"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die("CRAFT_PYTHON_LIBCRAFT=system needs `pkg-config craft` to work "
            "(install libcraft, or set PKG_CONFIG_PATH): %s" % e)
    return shlex.split(out)


def include_dir():
    """The directory holding craft.h that the build wraps."""
    if mode() == "bundled":
        inc = ROOT / "include"
        if not (inc / "craft.h").is_file():
            die("bundled build: %s/craft.h not found; build from the craft "
                "source tree (pip install ./bindings/python)" % inc)
        return inc
    for flag in pkg_config("--cflags-only-I"):
        if flag.startswith("-I") and (Path(flag[2:]) / "craft.h").is_file():
            return Path(flag[2:])
    for d in ("/usr/local/include", "/usr/include"):
        if (Path(d) / "craft.h").is_file():
            return Path(d)
    die("craft.h not found through pkg-config")


def headers(inc):
    """The public headers in include order: what craft.h includes, then
    every other craft/*.h (craft/testing.h and later additions)."""
    umbrella = (inc / "craft.h").read_text()
    ordered = [m.group(1) for m in
               re.finditer(r'^\s*#\s*include\s+"(craft/[^"]+\.h)"', umbrella,
                           re.M)]
    rest = sorted("craft/" + p.name for p in (inc / "craft").glob("*.h")
                  if "craft/" + p.name not in ordered)
    return ["craft.h"] + ordered + rest


def header_digest(inc):
    h = hashlib.sha256()
    for name in headers(inc):
        h.update(name.encode() + b"\0")
        h.update((inc / name).read_bytes())
    return h.hexdigest()


def version(inc):
    text = (inc / "craft.h").read_text()
    m = re.search(r'#\s*define\s+CRAFT_VERSION_STRING\s+"([^"]+)"', text)
    if not m:
        die("cannot read CRAFT_VERSION_STRING from %s/craft.h" % inc)
    return m.group(1)


def library_sources():
    src = ROOT / "src"
    return sorted(str(p) for d in sorted(src.iterdir())
                  if d.is_dir() and d.name not in NOT_LIBRARY
                  for p in d.glob("*.c"))


def swig_exe():
    exe = os.environ.get("SWIG", "swig")
    if shutil.which(exe) is None:
        die("SWIG not found: install it (Debian: apt-get install swig, or "
            "`make deps` in the craft tree), or set SWIG=/path/to/swig")
    return exe


def newer(inputs, output):
    if not os.path.exists(output):
        return True
    t = os.path.getmtime(output)
    return any(os.path.getmtime(i) > t for i in inputs)


class BuildExt(build_ext):
    """Runs SWIG, then compiles every source of the extension in
    parallel (the library's sources are many small files)."""

    def run(self):
        inc = include_dir()
        tmp = Path(self.build_temp).resolve() / "swig"
        tmp.mkdir(parents=True, exist_ok=True)
        if self.inplace:
            pkg_dir = HERE / "src" / "craft"
        else:
            pkg_dir = Path(self.build_lib).resolve() / "craft"
        pkg_dir.mkdir(parents=True, exist_ok=True)

        names = headers(inc)
        headers_i = tmp / "headers.i"
        text = "".join('%%include "%s"\n' % n for n in names)
        if not headers_i.exists() or headers_i.read_text() != text:
            headers_i.write_text(text)
        wrap_c = tmp / "lowlevel_wrap.c"
        py_out = tmp / "lowlevel.py"
        inputs = [str(inc / n) for n in names] + [
            str(headers_i), str(EXT_DIR / "craft.i"), str(EXT_DIR / "glue.h")]
        if newer(inputs, str(wrap_c)) or not py_out.exists():
            cmd = [swig_exe(), "-python", "-threads", "-I%s" % inc,
                   "-I%s" % EXT_DIR, "-I%s" % tmp, "-outdir", str(tmp),
                   "-o", str(wrap_c), str(EXT_DIR / "craft.i")]
            print(" ".join(cmd))
            subprocess.run(cmd, check=True)
        shutil.copyfile(py_out, pkg_dir / "lowlevel.py")

        digest = header_digest(inc)
        swig_version = subprocess.run([swig_exe(), "-version"],
                                      capture_output=True, text=True).stdout
        m = re.search(r"SWIG Version (\S+)", swig_version)
        (pkg_dir / "_build_info.py").write_text(
            "# Generated by setup.py at build time: what this build of the\n"
            "# extension was made from. Do not edit.\n"
            "HEADERS = %r\n"
            "HEADERS_SHA256 = %r\n"
            "VERSION = %r\n"
            "LIBCRAFT = %r\n"
            "SWIG_VERSION = %r\n"
            % (names, digest, version(inc), mode(), m.group(1) if m else "?"))

        ext = self.extensions[0]
        # CRAFT_PYTHON_CFLAGS: extra flags for every compile and the link
        # (make python-asan builds with -fsanitize=address,undefined).
        extra = shlex.split(os.environ.get("CRAFT_PYTHON_CFLAGS", ""))
        ext.extra_compile_args = CFLAGS + extra
        ext.sources = [str(wrap_c), str(EXT_DIR / "glue.c")]
        ext.include_dirs = [str(EXT_DIR), str(inc)]
        ext.depends = inputs + [str(EXT_DIR / "glue.c")]
        if mode() == "bundled":
            lib_src = library_sources()
            ext.sources += lib_src
            ext.include_dirs.append(str(ROOT / "src"))
            ext.depends += lib_src + [str(p) for p in
                                      (ROOT / "src").glob("*/*.h")]
            ext.libraries = ["pthread"]
            ext.extra_link_args = extra
        else:
            ext.extra_link_args = pkg_config("--libs") + extra
            ext.libraries = ["pthread"]
        super().run()

    def build_extension(self, ext):
        # The library is many small files: compile them in parallel
        # (CRAFT_PYTHON_JOBS, default the CPU count).
        jobs = int(os.environ.get("CRAFT_PYTHON_JOBS", os.cpu_count() or 1))
        cc = self.compiler

        def compile_parallel(sources, output_dir=None, macros=None,
                             include_dirs=None, debug=0, extra_preargs=None,
                             extra_postargs=None, depends=None):
            macros, objects, extra_postargs, pp_opts, build = \
                cc._setup_compile(output_dir, macros, include_dirs, sources,
                                  depends, extra_postargs)
            cc_args = cc._get_cc_args(pp_opts, debug, extra_preargs)

            def one(obj):
                src, ext_ = build[obj]
                cc._compile(obj, src, ext_, cc_args, extra_postargs, pp_opts)

            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                list(pool.map(one, objects))
            return objects

        cc.compile = compile_parallel
        super().build_extension(ext)


def read_version():
    try:
        return version(include_dir())
    except SystemExit:
        raise


CFLAGS = ["-std=c11", "-O2", "-D_DEFAULT_SOURCE", "-fvisibility=hidden",
          "-Wno-unused-parameter"]

# CRAFT_PYTHON_BUILD_DIR moves setuptools' build tree (and egg-info) out
# of the source tree: `make python-test` uses one per build directory, so a
# gcc and a clang build never share objects.
_options = {}
if os.environ.get("CRAFT_PYTHON_BUILD_DIR"):
    _base = os.path.abspath(os.environ["CRAFT_PYTHON_BUILD_DIR"])
    os.makedirs(_base, exist_ok=True)
    _options = {"build": {"build_base": _base},
                "egg_info": {"egg_base": _base}}

setup(
    version=read_version(),
    options=_options,
    ext_modules=[Extension("craft._lowlevel", sources=[],
                           extra_compile_args=CFLAGS)],
    cmdclass={"build_ext": BuildExt},
)
