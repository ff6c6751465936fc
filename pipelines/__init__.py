"""Example pipelines built from azml_components (compiled into compiled/pipelines/)."""
