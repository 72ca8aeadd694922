"""gradekit.kernel_shim, run here as the kernel runs it: requests in, one plain-data reply out."""

from __future__ import annotations

import torch

from gradekit import kernel_shim, plain, testkit
from gradekit.kernel_shim import MIME, Shim


def _shim(ns):
    replies = []
    shim = Shim(ns, plain, testkit, lambda data: replies.append(data[MIME]))
    return shim, replies


class Ref(dict):
    """A reference the grader would send (a tagged dict that is not plain data)."""


def _request(args, **extra) -> str:
    return plain.to_json({"args": args, "kwargs": {}, **extra}, other=lambda o: dict(o) if type(o) is Ref else None)


def _last(replies, refs=None):
    return plain.from_json(replies[-1], refs=refs or (lambda d: d))


def test_get_returns_plain_data_or_a_handle_or_a_name_error():
    class Model(torch.nn.Module):
        def forward(self, x):
            return x + 1

    shim, replies = _shim({"x": [1.5, torch.ones(2)], "m": Model(), "f": len})
    shim.get("x")
    value = _last(replies)["value"]
    assert value[0] == 1.5 and torch.equal(value[1], torch.ones(2))
    shim.get("m")
    handle = _last(replies)["value"]
    assert handle["__t"] == "handle" and handle["callable"] is True and handle["type"].endswith("Model")
    shim.get("missing")
    assert _last(replies)["error"]["type"] == "NameError"


def test_call_rebuilds_testkit_callables_and_models_and_reports_in_place_changes():
    def student(f, model, x):
        with torch.no_grad():
            model.weight.zero_()
        x.add_(1)
        return f(x)

    shim, replies = _shim({"student": student})
    shim.get("student")
    hid = _last(replies)["value"]["id"]
    lin = torch.nn.Linear(2, 2).double()
    shim.call(hid, _request([
        Ref({"__t": "callable", "name": "Scale", "params": plain.encode({"c": 3.0})}),
        Ref({"__t": "model", "spec": testkit.module_spec(lin), "state": plain.encode(dict(lin.state_dict()))}),
        torch.zeros(2),
    ], rng=torch.get_rng_state()))
    reply = _last(replies)
    assert torch.equal(reply["value"], torch.full((2,), 3.0))
    model_state, x_after = reply["writeback"]
    assert torch.equal(model_state["state"]["weight"], torch.zeros(2, 2, dtype=torch.float64))
    assert model_state["state"]["weight"].dtype == torch.float64, "the model keeps its dtype across"
    assert torch.equal(x_after, torch.ones(2))


def test_student_errors_and_non_plain_results_come_back_as_data():
    def raises(*a):
        raise ValueError("bad input " + "x" * 5000)

    shim, replies = _shim({"raises": raises, "obj": lambda: object()})
    shim.get("raises")
    shim.call(_last(replies)["value"]["id"], _request([]))
    err = _last(replies)["error"]
    assert err["type"] == "ValueError" and len(err["message"]) == kernel_shim.MAX_MESSAGE
    shim.get("obj")
    shim.call(_last(replies)["value"]["id"], _request([]))
    assert _last(replies)["value"]["__t"] == "handle", "an object that is not plain data becomes a handle"


def test_value_and_grad_is_taken_in_the_kernel():
    shim, replies = _shim({"loss": lambda t: (t ** 2).sum()})
    shim.get("loss")
    t = torch.tensor([1.0, -2.0], requires_grad=True)
    shim.call(_last(replies)["value"]["id"], _request([t], grad_wrt=0))
    value, grad = _last(replies)["value"]
    assert float(value) == 5.0 and torch.equal(grad, torch.tensor([2.0, -4.0]))
