"""Functions and models a test may pass to student code, by name and parameters (never by code).

A hidden test is evaluated on the grader's side (:mod:`gradekit.trusted`); student code runs in the
sandboxed kernel. Only plain data (:mod:`gradekit.plain`) crosses between them. When a test passes a
*callable* to a student's function -- the ``g`` of a fixed-point iteration, a map ``f`` to invert, a
solver -- it uses one of the classes below: each is an ordinary Python callable (so a notebook works
the same in a student's own Jupyter), and it crosses as its class name and its parameters, rebuilt on
the other side from this same module. A ``torch.nn`` model built from the layers in
:data:`MODULE_LAYERS` crosses too, as its layer structure and its ``state_dict``.

Example (a hidden test of ``fixed_point_inverse(g, y, lipschitz)``)::

    from gradekit.testkit import TanhAffine
    g = TanhAffine(M)                 # g(v) = tanh(v @ M.T)
    x, k = fixed_point_inverse(g, y, 0.8)

The module imports only ``torch``; the grader sends its source into the kernel.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["Scale", "Polynomial", "Affine", "TanhAffine", "TanhSinConditioner", "ConstantConditioner",
           "ReturnStart", "ReciprocalStart", "GradientDescent", "value_and_grad", "gradient", "CALLABLES",
           "MODULE_LAYERS", "module_spec", "build_module"]


class _Spec:
    """A callable that crosses the trust boundary as ``(class name, parameters)``."""

    def __init__(self, **params: Any) -> None:
        self._params = dict(params)
        for k, v in params.items():
            setattr(self, k, v)

    def spec(self) -> tuple[str, dict[str, Any]]:
        """``(name, parameters)``: ``CALLABLES[name](**parameters)`` rebuilds this callable."""
        return type(self).__name__, dict(self._params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}=...' for k in self._params)})"


class Scale(_Spec):
    """:math:`f(v) = c\\,v`."""

    def __init__(self, c: float) -> None:
        super().__init__(c=float(c))

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self.c * v


class Polynomial(_Spec):
    """:math:`f(v) = \\sum_k c_k v^k` element-wise, ``coeffs = [c_0, c_1, ...]``."""

    def __init__(self, coeffs: list[float]) -> None:
        super().__init__(coeffs=[float(c) for c in coeffs])

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(v) if isinstance(v, torch.Tensor) else 0.0 * v
        for k, c in enumerate(self.coeffs):
            if c:
                out = out + c * v**k
        return out


class Affine(_Spec):
    """:math:`f(v) = v A^T + b` (``b`` a tensor, a float or None)."""

    def __init__(self, A: torch.Tensor, b: Any = None) -> None:
        super().__init__(A=A, b=b)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        out = v @ self.A.T
        return out if self.b is None else out + self.b


class TanhAffine(_Spec):
    """:math:`f(v) = \\text{scale}\\cdot\\tanh(v A^T) + \\text{skip}\\cdot v`."""

    def __init__(self, A: torch.Tensor, scale: float = 1.0, skip: float = 0.0) -> None:
        super().__init__(A=A, scale=float(scale), skip=float(skip))

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        out = self.scale * torch.tanh(v @ self.A.T)
        return out + self.skip * v if self.skip else out


class TanhSinConditioner(_Spec):
    """A coupling conditioner: :math:`x_p \\mapsto (a\\tanh(x_p A),\\ \\sin(x_p B) + c)`."""

    def __init__(self, A: torch.Tensor, B: torch.Tensor, s_scale: float = 1.0, t_shift: float = 0.0) -> None:
        super().__init__(A=A, B=B, s_scale=float(s_scale), t_shift=float(t_shift))

    def __call__(self, xp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.s_scale * torch.tanh(xp @ self.A), torch.sin(xp @ self.B) + self.t_shift


class ConstantConditioner(_Spec):
    """A coupling conditioner with constant outputs: :math:`x_p \\mapsto (s\\mathbf 1, t\\mathbf 1)`, width ``width``."""

    def __init__(self, s: float, t: float, width: int) -> None:
        super().__init__(s=float(s), t=float(t), width=int(width))

    def __call__(self, xp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (*xp.shape[:-1], self.width)
        return torch.full(shape, self.s, dtype=xp.dtype), torch.full(shape, self.t, dtype=xp.dtype)


class ReturnStart(_Spec):
    """A "solver" ``(f, y, x0) -> x0``."""

    def __call__(self, f: Any, y: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        return x0


class ReciprocalStart(_Spec):
    """A "solver" ``(f, y, x0) -> 1 / x0``: its answer is not its start."""

    def __call__(self, f: Any, y: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        return 1 / x0


class GradientDescent(_Spec):
    """A solver ``(f, y, x0) -> x``: ``steps`` steps of :math:`x \\leftarrow x - \\text{lr}\\,\\nabla_x \\|f(x) - y\\|^2`."""

    def __init__(self, steps: int = 200, lr: float = 0.02) -> None:
        super().__init__(steps=int(steps), lr=float(lr))

    def __call__(self, f: Any, y: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        v = x0.detach().clone()
        for _ in range(self.steps):
            v.requires_grad_(True)
            (grad,) = torch.autograd.grad(((f(v) - y) ** 2).sum(), v)
            v = (v - self.lr * grad).detach()
        return v


CALLABLES: dict[str, type[_Spec]] = {c.__name__: c for c in (
    Scale, Polynomial, Affine, TanhAffine, TanhSinConditioner, ConstantConditioner, ReturnStart, ReciprocalStart,
    GradientDescent)}


def value_and_grad(fn: Any, *args: Any, wrt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fn(*args), d sum(fn(*args)) / d args[wrt])``, the value detached (``args[wrt]`` a tensor or a list).

    Use it to test that student code is differentiable: on the grader's side the student's function runs
    in the kernel, and so does this derivative (a computation graph does not cross the boundary).
    """
    remote = getattr(fn, "_gradekit_value_and_grad", None)
    if remote is not None:
        return remote(args, wrt)
    out = fn(*args)
    return out.detach(), gradient(out, args[wrt])


def gradient(out: torch.Tensor, inputs: Any) -> Any:
    """:math:`\\partial\\, \\text{sum}(\\text{out}) / \\partial\\, \\text{inputs}`: a tensor, or a list for a list of tensors."""
    grads = torch.autograd.grad(out.sum(), inputs)
    return grads[0] if isinstance(inputs, torch.Tensor) else list(grads)


# torch.nn layers a test may pass, and how to read back their constructor's arguments
MODULE_LAYERS: dict[str, Any] = {
    "Identity": lambda m: {},
    "Tanh": lambda m: {},
    "ReLU": lambda m: {},
    "Sigmoid": lambda m: {},
    "Softplus": lambda m: {"beta": m.beta, "threshold": m.threshold},
    "LeakyReLU": lambda m: {"negative_slope": m.negative_slope},
    "ELU": lambda m: {"alpha": m.alpha},
    "Flatten": lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim},
    "Linear": lambda m: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
    "BatchNorm1d": lambda m: {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum,
                              "affine": m.affine, "track_running_stats": m.track_running_stats},
    "Sequential": lambda m: {},
}


def module_spec(m: torch.nn.Module) -> dict[str, Any]:
    """The structure of a model built from :data:`MODULE_LAYERS` (exact classes), without its weights."""
    name = type(m).__name__
    if name not in MODULE_LAYERS or type(m) is not getattr(torch.nn, name):
        raise TypeError(f"a {type(m).__module__}.{type(m).__qualname__} cannot be passed to student code: "
                        f"only models built from torch.nn.{{{', '.join(MODULE_LAYERS)}}}")
    spec = {"layer": name, "args": MODULE_LAYERS[name](m), "training": bool(m.training)}
    if name == "Sequential":
        spec["children"] = [module_spec(c) for c in m]
    return spec


def build_module(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The model :func:`module_spec` described, with the weights and buffers ``state``."""
    name = spec["layer"]
    if name not in MODULE_LAYERS:
        raise TypeError(f"unknown layer {name!r}")
    if name == "Sequential":
        m = torch.nn.Sequential(*[build_module(c, {}) for c in spec["children"]])
    else:
        m = getattr(torch.nn, name)(**spec["args"])
    if state:
        m.load_state_dict(state, assign=True)
    m.train(bool(spec.get("training", True)))
    for c, s in zip(m.children(), spec.get("children", [])):
        c.train(bool(s.get("training", True)))
    return m
