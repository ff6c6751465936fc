"""KFP cluster rules for pipelines run with kfp.local, and checks of compiled pipelines."""
