"""Builds coordexp's Python extension module with the project's CMake build and installs the package.

    python3 -m pip install --no-build-isolation .   # in a venv made with --system-site-packages, or --target DIR

The build reuses the folder in $COORDEXP_BUILD (default ./build) when it is configured, and otherwise
configures one there (Release, Ninja); only the target _coordexp is built. See docs/python.md.
"""
import glob
import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeExtension(Extension):
    def __init__(self, name, optional=False):
        super().__init__(name, sources=[], optional=optional)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.abspath(os.environ.get("COORDEXP_BUILD", os.path.join(ROOT, "build")))
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            subprocess.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                           check=True)
        target_name = ext.name.split(".")[-1]
        subprocess.run(["cmake", "--build", build, "--target", target_name], check=True)
        built = glob.glob(os.path.join(build, "python", "coordexp", target_name + ".*.so"))
        if not built:
            raise RuntimeError(f"the CMake build in {build} made no {target_name} module")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    packages=["coordexp"],
    package_dir={"": "python"},
    # coordexp.torch's module needs LibTorch and python3-torch; without them the package installs without it
    ext_modules=[CMakeExtension("coordexp._coordexp"), CMakeExtension("coordexp._coordexp_torch", optional=True)],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own staging folder, inside the CMake build folder but apart from what CMake writes there
    options={"build": {"build_base": os.path.join("build", "setuptools")}},
)
