"""The practice host: local Kaggle-like competitions built from real data, served over the
subset of the Kaggle API that the official client uses."""
