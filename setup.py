# A thin CMake build: `pip install .` and `pip install -e .` configure the top-level
# CMakeLists.txt and build the _core extension into the package (pybind11's cmake_example).
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        # CARTRECOVERY_BUILD_DIR lets the test script share one build tree with CTest.
        build_dir = Path(os.environ.get("CARTRECOVERY_BUILD_DIR", self.build_temp)).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        tests = os.environ.get("CARTRECOVERY_BUILD_TESTS", "OFF")
        config = [
            f"-DCARTRECOVERY_PACKAGE_DIR={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCARTRECOVERY_BUILD_TESTS={tests}",
            "-DCMAKE_BUILD_TYPE=" + os.environ.get("CMAKE_BUILD_TYPE", "RelWithDebInfo"),
        ]
        if subprocess.call(["ninja", "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
            config.append("-GNinja") if not (build_dir / "CMakeCache.txt").exists() else None
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), *config], check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs], check=True)


setup(
    packages=["cartrecovery", "cartrecovery.web", "cartrecovery.flask", "cartrecovery.django",
              "cartrecovery.django.templatetags", "cartrecovery.django.management",
              "cartrecovery.django.management.commands", "cartrecovery.contrib",
              "cartrecovery.contrib.oscar"],
    package_dir={"": "plugin-adapters"},
    package_data={"cartrecovery": ["py.typed", "*.pyi", "static/*"]},
    ext_modules=[CMakeExtension("cartrecovery._core")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
