"""Backends a module is timed on: eager, torch.compile, ONNX Runtime, and what each folds."""
