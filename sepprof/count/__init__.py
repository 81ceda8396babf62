"""Counting: the cost model, the tracer and its op rules, the fvcore peer, model counting and
backward counts."""
