"""The model families, registered in one place that cross-validation, tuning, the CLI and the
benchmarks read. Adding a family is one module with a FAMILY object, plus one line here.

Importing this package is light (no numpy, pandas, lightgbm or torch): a family's module is
imported when the family is first looked up, so `compete --help` can list the names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from pipelines.errors import PipelinesError
from pipelines.models.base import Fitted, FoldData, MemberFit, ModelFamily

__all__ = [
    "FAMILIES",
    "Fitted",
    "FoldData",
    "MemberFit",
    "ModelFamily",
    "family_names",
    "get_family",
]

# name -> the module that holds its FAMILY; the order is the order users see.
_MODULES = {
    "lgbm": "pipelines.models.lgbm",
    "catboost": "pipelines.models.catboost_family",
    "nn": "pipelines.models.nn",
    "hybrid": "pipelines.models.hybrid",
    "realmlp": "pipelines.models.realmlp",
    "lgbm_td": "pipelines.models.td_gbdt",
    "xgb_td": "pipelines.models.xgb_td",
    "extra_trees": "pipelines.models.extra_trees",
    "linear": "pipelines.models.linear",
}


class _Families(Mapping[str, ModelFamily]):
    """Name -> family, importing each family's module on first use."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)

    def __getitem__(self, name: str) -> ModelFamily:
        family = importlib.import_module(self._modules[name]).FAMILY
        if family.name != name:
            raise PipelinesError(f"{self._modules[name]} registers {family.name!r}, not {name!r}.")
        return family

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


FAMILIES: Mapping[str, ModelFamily] = _Families(_MODULES)


def family_names() -> tuple[str, ...]:
    """The registered families' names, without importing them."""
    return tuple(_MODULES)


def get_family(name: str) -> ModelFamily:
    """The family called `name`; an unknown name is refused with the known ones."""
    if name not in _MODULES:
        raise PipelinesError(f"Unknown model {name!r}; expected one of {', '.join(_MODULES)}.")
    return FAMILIES[name]
