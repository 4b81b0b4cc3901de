from __future__ import annotations

import pytest
from backends import ALL_BACKENDS, configure, installed


def _backend_params() -> list[object]:
    params = []
    for name in ALL_BACKENDS:
        marks = (
            [] if installed(name) else [pytest.mark.skip(reason=f"backend {name} is not installed")]
        )
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(params=_backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    """Every installed array library, one test run each."""
    name: str = request.param
    configure(name)
    return name


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> str:
    return str(request.param)
