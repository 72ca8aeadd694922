"""invlib installs and exposes its documented public API."""

import inspect

import invlib


def test_public_names_exist_and_are_documented():
    for name in invlib.__all__:
        obj = getattr(invlib, name)
        assert inspect.getdoc(obj), f"invlib.{name} has no docstring"


def test_errors_are_value_errors():
    for err in (invlib.NotInvertibleError, invlib.DomainError, invlib.InvalidInputError):
        assert issubclass(err, ValueError)


def test_not_invertible_error_message_names_path_reason_and_remedy():
    err = invlib.NotInvertibleError("2.1", "ReLU", "many-to-one", "use invlib.optimize_inverse")
    assert str(err).startswith("2.1: ReLU is not invertible: many-to-one")
    assert "optimize_inverse" in str(err)
    assert (err.path, err.layer) == ("2.1", "ReLU")
