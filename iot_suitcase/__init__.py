"""iot-suitcase. Importing the package first checks the compiled hot path against its sources (compiled.py)."""

import iot_suitcase.compiled  # noqa: F401  - before any module of the hot path is imported
