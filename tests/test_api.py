"""``import sepprof``: the public names (moved here from test_units.py, issue #18)."""


def test_public_api_names_are_functions_not_modules():
    """Every name of ``import sepprof`` resolves to the function, even after the module that
    holds it has been imported (module names differ from function names on purpose)."""
    import importlib

    import sepprof

    for name, module in sepprof._API.items():
        importlib.import_module(module)
        assert callable(getattr(sepprof, name)), name
        assert not isinstance(getattr(sepprof, name), type(sepprof)), name
