# The one place the version is written: setup.py (the wheel and sdist metadata), CMake
# (the core's project version) and cartrecovery.__version__ all read it.
__version__ = "0.1.0"
