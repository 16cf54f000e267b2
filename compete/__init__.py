"""compete: the face of the product: CLI, settings, workspace, Kaggle adapter, practice host."""

__version__ = "0.1.0"
