"""Plausible wrong answers to ex07_invertible_by_design; each must lose points where stated."""

_INV_HEAD = "def affine_coupling_inverse(y, scale_shift):\n    k = y.shape[-1] // 2\n    yp, ya = y[..., :k], y[..., k:]\n"
_LD_HEAD = "def affine_coupling_logdet(x, scale_shift):\n    k = x.shape[-1] // 2\n    s, _ = scale_shift(x[..., :k])\n"
_FP_HEAD = (
    "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
    "    factor = lipschitz / (1 - lipschitz)\n"
    "    x = y\n"
    "    for k in range(1, max_iter + 1):\n"
)
_BANACH_HEAD = (
    "def banach_iterations(lipschitz, first_step, tol):\n"
    "    if not 0 < lipschitz < 1:\n"
    "        raise ValueError('no contraction')\n"
)

_EXP_TAIL = (
    "\nSTEPS_WORST = steps_to_tolerance(g_worst, x_exp, 1e-8)\n"
    "STEPS_TANH = steps_to_tolerance(g_tanh, x_exp, 1e-8)\n"
    "TIGHT_FOR = 'worst'\n"
)


def _steps(test: str, before: str = "", update: str = "x = y - g(x)") -> str:
    """steps_to_tolerance with the stopping test `test` (x, x_true, tol in scope), then the experiment."""
    return (
        "def steps_to_tolerance(g, x_true, tol, max_iter=100_000):\n"
        f"    y = x_true + g(x_true)\n{before}"
        "    x = y\n"
        "    for k in range(max_iter + 1):\n"
        f"        if {test}:\n"
        "            return k\n"
        f"        {update}\n"
        "    raise RuntimeError('max_iter reached')\n" + _EXP_TAIL
    )


_ALL_ROWS = "bool((torch.linalg.vector_norm(x - x_true, dim=-1) <= tol).all())"

WRONG = {
    "inverse_multiplies_by_exp_s": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(yp)\n"
                    "    return torch.cat([yp, (ya - t) * torch.exp(s)], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "inverse_conditions_on_active_half": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(ya[..., :k])\n"
                    "    return torch.cat([yp, (ya - t) * torch.exp(-s)], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "logdet_sums_over_batch": {
        "replace": {"logdet-solution": _LD_HEAD + "    return s.sum(dim=0)\n"},
        "loses": ["logdet-test"],
    },
    "logdet_wrong_sign": {
        "replace": {"logdet-solution": _LD_HEAD + "    return -s.sum(dim=-1)\n"},
        "loses": ["logdet-test"],
    },
    "fixed_point_sign_error": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y + g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((factor * step <= tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_stops_when_step_small": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((step <= tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "banach_floor_off_by_one": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, math.floor(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    "banach_forgets_one_minus_L": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, math.ceil(math.log(tol / first_step) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    "banach_negative_when_already_converged": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return math.ceil(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz))\n"},
        "loses": ["banach-test"],
    },
    # ---- Part A: mistakes that pass the visible test (d = 4, one row) ----
    "inverse_float32_cast_back": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(yp)\n"
                    "    xa = (ya.float() - t.float()) * torch.exp(-s.float())\n"
                    "    return torch.cat([yp, xa.double()], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "inverse_passive_width_hardcoded_2": {
        "replace": {"inverse-solution": (
            "def affine_coupling_inverse(y, scale_shift):\n"
            "    yp, ya = y[..., :2], y[..., 2:]\n"
            "    s, t = scale_shift(yp)\n"
            "    return torch.cat([yp, (ya - t) * torch.exp(-s)], dim=-1)\n")},
        "loses": ["inverse-test"],
    },
    "inverse_ceil_half": {
        "replace": {"inverse-solution": (
            "def affine_coupling_inverse(y, scale_shift):\n"
            "    k = (y.shape[-1] + 1) // 2\n"
            "    yp, ya = y[..., :k], y[..., k:]\n"
            "    s, t = scale_shift(yp)\n"
            "    return torch.cat([yp, (ya - t) * torch.exp(-s)], dim=-1)\n")},
        "loses": ["inverse-test"],
    },
    "inverse_conditions_on_first_row": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(yp[:1])\n"
                    "    return torch.cat([yp, (ya - t) * torch.exp(-s)], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "inverse_overwrites_y_in_place": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(yp)\n"
                    "    ya -= t\n"
                    "    ya *= torch.exp(-s)\n"
                    "    return y\n"},
        "loses": ["inverse-test"],
    },
    # ---- Part B ----
    "logdet_adds_t": {
        "replace": {"logdet-solution": (
            "def affine_coupling_logdet(x, scale_shift):\n"
            "    k = x.shape[-1] // 2\n"
            "    s, t = scale_shift(x[..., :k])\n"
            "    return (s + t).sum(dim=-1)\n")},
        "loses": ["logdet-test"],
    },
    "logdet_conditions_on_active_half": {
        "replace": {"logdet-solution": (
            "def affine_coupling_logdet(x, scale_shift):\n"
            "    k = x.shape[-1] // 2\n"
            "    s, _ = scale_shift(x[..., k:])\n"
            "    return s.sum(dim=-1)\n")},
        "loses": ["logdet-test"],
    },
    "logdet_float32": {
        "replace": {"logdet-solution": _LD_HEAD + "    return s.float().sum(dim=-1).double()\n"},
        "loses": ["logdet-test"],
    },
    "logdet_log_of_product_overflows": {
        "replace": {"logdet-solution": _LD_HEAD + "    return torch.log(torch.exp(s).prod(dim=-1))\n"},
        "loses": ["logdet-test"],
    },
    "logdet_passive_width_hardcoded_2": {
        "replace": {"logdet-solution": (
            "def affine_coupling_logdet(x, scale_shift):\n"
            "    s, _ = scale_shift(x[:, :2])\n"
            "    return s.sum(dim=1)\n")},
        "loses": ["logdet-test"],
    },
    # ---- Part C ----
    "fixed_point_any_row": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((factor * step <= tol).any()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_one_norm_over_batch": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x)\n"
                    "        x = x_new\n"
                    "        if factor * step <= tol:\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_max_abs_norm": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = (x_new - x).abs().amax(dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((factor * step <= tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_squared_norm": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = ((x_new - x) ** 2).sum(dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((factor * step <= tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_strict_less_than": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        x = x_new\n"
                    "        if bool((factor * step < tol).all()):\n"
                    "            return x, k\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_returns_previous_iterate": {
        "replace": {"fixed-point-solution": _FP_HEAD +
                    "        x_new = y - g(x)\n"
                    "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
                    "        if bool((factor * step <= tol).all()):\n"
                    "            return x, k\n"
                    "        x = x_new\n"
                    "    raise RuntimeError('no convergence')\n"},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_one_step_short_of_max_iter": {
        "replace": {"fixed-point-solution": (
            "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
            "    factor = lipschitz / (1 - lipschitz)\n"
            "    x = y\n"
            "    for k in range(1, max_iter):\n"
            "        x_new = y - g(x)\n"
            "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
            "        x = x_new\n"
            "        if bool((factor * step <= tol).all()):\n"
            "            return x, k\n"
            "    raise RuntimeError('no convergence')\n")},
        "loses": ["fixed-point-test"],
    },
    "fixed_point_updates_y_in_place": {
        "replace": {"fixed-point-solution": (
            "def fixed_point_inverse(g, y, lipschitz, tol=1e-10, max_iter=1000):\n"
            "    factor = lipschitz / (1 - lipschitz)\n"
            "    y0 = y.clone()\n"
            "    x = y\n"
            "    for k in range(1, max_iter + 1):\n"
            "        x_new = y0 - g(x)\n"
            "        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n"
            "        x.copy_(x_new)\n"
            "        if bool((factor * step <= tol).all()):\n"
            "            return x, k\n"
            "    raise RuntimeError('no convergence')\n")},
        "loses": ["fixed-point-test"],
    },
    # ---- Part D ----
    "banach_ignores_first_step": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, math.ceil(math.log(tol * (1 - lipschitz)) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    "banach_rounds_instead_of_ceil": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, round(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    "banach_log_of_zero_first_step": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    return max(0, math.ceil(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz)))\n"},
        "loses": ["banach-test"],
    },
    # ---- Part E (experiment) ----
    "experiment_any_row": {
        "replace": {"experiment-solution": _steps("bool((torch.linalg.vector_norm(x - x_true, dim=-1) <= tol).any())")},
        "loses": ["experiment-test"],
    },
    "experiment_one_norm_over_batch": {
        "replace": {"experiment-solution": _steps("float(torch.linalg.vector_norm(x - x_true)) <= tol")},
        "loses": ["experiment-test"],
    },
    "experiment_max_abs_error": {
        "replace": {"experiment-solution": _steps("float((x - x_true).abs().max()) <= tol")},
        "loses": ["experiment-test"],
    },
    "experiment_strict_less_than": {
        "replace": {"experiment-solution": _steps("bool((torch.linalg.vector_norm(x - x_true, dim=-1) < tol).all())")},
        "loses": ["experiment-test"],
    },
    "experiment_one_step_short_of_max_iter": {
        "replace": {"experiment-solution": _steps(_ALL_ROWS).replace("range(max_iter + 1)", "range(max_iter)")},
        "loses": ["experiment-test"],
    },
    "experiment_updates_x_true_in_place": {
        "replace": {"experiment-solution": _steps(_ALL_ROWS, before="    x_true_0 = x_true.clone()\n",
                                                  update="x = y - g(x)").replace(
            "    x = y\n", "    x = x_true\n    x.copy_(y)\n").replace(
            "vector_norm(x - x_true,", "vector_norm(x - x_true_0,").replace(
            "x = y - g(x)\n    raise", "x.copy_(y - g(x))\n    raise")},
        "loses": ["experiment-test"],
    },
    "experiment_measures_the_a_posteriori_count": {
        "replace": {"experiment-solution": _steps(_ALL_ROWS).replace(_EXP_TAIL, (
            "\nSTEPS_WORST = fixed_point_inverse(g_worst, x_exp + g_worst(x_exp), 0.9, tol=1e-8)[1]\n"
            "STEPS_TANH = fixed_point_inverse(g_tanh, x_exp + g_tanh(x_exp), 0.9, tol=1e-8)[1]\n"
            "TIGHT_FOR = 'worst'\n"))},
        "loses": ["experiment-test"],
    },
    "experiment_wrong_interpretation": {
        "replace": {"experiment-solution": _steps(_ALL_ROWS).replace("TIGHT_FOR = 'worst'", "TIGHT_FOR = 'tanh'")},
        "loses": ["experiment-test"],
    },
    "inverse_clamps_s_for_stability": {
        "replace": {"inverse-solution": _INV_HEAD + "    s, t = scale_shift(yp)\n"
                    "    return torch.cat([yp, (ya - t) * torch.exp(-s.clamp(-1, 1))], dim=-1)\n"},
        "loses": ["inverse-test"],
    },
    "logdet_batch_average_per_row": {
        "replace": {"logdet-solution": _LD_HEAD + "    return s.sum(dim=-1).mean().expand(x.shape[0])\n"},
        "loses": ["logdet-test"],
    },
    "banach_loop_capped_at_1000": {
        "replace": {"banach-solution": _BANACH_HEAD +
                    "    for k in range(1000):\n"
                    "        if lipschitz ** k / (1 - lipschitz) * first_step <= tol:\n"
                    "            return k\n"
                    "    return 1000\n"},
        "loses": ["banach-test"],
    },
    # ---- issue 15, outsider attack (atk5, written blind from the release): the first five kept full marks before
    # the hidden tests had |s| up to 12 and exact ties in Banach's count; the others are new kinds of mistake ----
    "inverse_clamps_s_at_5": {
        "replace": {
            "inverse-solution": (
                'def affine_coupling_inverse(y: torch.Tensor, scale_shift) -> torch.Tensor:\n'
                '    """Return x with affine_coupling_forward(x, scale_shift) == y."""\n'
                '    k = y.shape[-1] // 2\n'
                '    yp, ya = y[..., :k], y[..., k:]\n'
                '    s, t = scale_shift(yp)\n'
                '    s = s.clamp(-5.0, 5.0)  # keep exp() from overflowing\n'
                '    return torch.cat([yp, (ya - t) * torch.exp(-s)], dim=-1)\n'
            ),
        },
        "loses": ["inverse-test"],
    },
    "banach_floor_plus_one_at_ties": {
        "replace": {
            "banach-solution": (
                'def banach_iterations(lipschitz: float, first_step: float, tol: float) -> int:\n'
                '    """Smallest k >= 0 with lipschitz**k / (1 - lipschitz) * first_step <= tol."""\n'
                '    if not 0 < lipschitz < 1:\n'
                '        raise ValueError(f"lipschitz must be in (0, 1), got {lipschitz}")\n'
                '    if first_step / (1 - lipschitz) <= tol:\n'
                '        return 0\n'
                '    return int(math.floor(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz))) + 1\n'
            ),
        },
        "loses": ["banach-test"],
    },
    "banach_strict_less_than": {
        "replace": {
            "banach-solution": (
                'def banach_iterations(lipschitz: float, first_step: float, tol: float) -> int:\n'
                '    """Smallest k >= 0 with lipschitz**k / (1 - lipschitz) * first_step <= tol."""\n'
                '    if not 0 < lipschitz < 1:\n'
                '        raise ValueError(f"lipschitz must be in (0, 1), got {lipschitz}")\n'
                '    k = 0\n'
                '    while not lipschitz**k / (1 - lipschitz) * first_step < tol:\n'
                '        k += 1\n'
                '    return k\n'
            ),
        },
        "loses": ["banach-test"],
    },
    "banach_closed_form_unchecked_at_ties": {
        "replace": {
            "banach-solution": (
                'def banach_iterations(lipschitz: float, first_step: float, tol: float) -> int:\n'
                '    """Smallest k >= 0 with lipschitz**k / (1 - lipschitz) * first_step <= tol."""\n'
                '    if not 0 < lipschitz < 1:\n'
                '        raise ValueError(f"lipschitz must be in (0, 1), got {lipschitz}")\n'
                '    if first_step <= tol * (1 - lipschitz):\n'
                '        return 0\n'
                '    return int(math.ceil(math.log(tol * (1 - lipschitz) / first_step) / math.log(lipschitz)))\n'
            ),
        },
        "loses": ["banach-test"],
    },
    "banach_closed_form_log10_unchecked": {
        "replace": {
            "banach-solution": (
                'def banach_iterations(lipschitz: float, first_step: float, tol: float) -> int:\n'
                '    """Smallest k >= 0 with lipschitz**k / (1 - lipschitz) * first_step <= tol."""\n'
                '    if not 0 < lipschitz < 1:\n'
                '        raise ValueError(f"lipschitz must be in (0, 1), got {lipschitz}")\n'
                '    if first_step == 0:\n'
                '        return 0\n'
                '    k = math.log10(tol * (1 - lipschitz) / first_step) / math.log10(lipschitz)\n'
                '    return max(0, math.ceil(k))\n'
            ),
        },
        "loses": ["banach-test"],
    },
    "logdet_ceil_half": {
        "replace": {
            "logdet-solution": (
                'def affine_coupling_logdet(x: torch.Tensor, scale_shift) -> torch.Tensor:\n'
                '    """Return log|det J_f(x)| per row, shape (n,)."""\n'
                '    k = (x.shape[-1] + 1) // 2\n'
                '    s, _ = scale_shift(x[..., :k])\n'
                '    return s.sum(dim=-1)\n'
            ),
        },
        "loses": ["logdet-test"],
    },
    "fixed_point_norm_over_rows_dim0": {
        "replace": {
            "fixed-point-solution": (
                'def fixed_point_inverse(g, y: torch.Tensor, lipschitz: float, tol: float = 1e-10,\n'
                '                        max_iter: int = 1000) -> tuple[torch.Tensor, int]:\n'
                '    """Solve x + g(x) = y by x_{k+1} = y - g(x_k), x_0 = y; return (x, number of steps)."""\n'
                '    \n'
                '    factor = lipschitz / (1 - lipschitz)\n'
                '    x = y.clone()\n'
                '    for k in range(1, max_iter + 1):\n'
                '        x_new = y - g(x)\n'
                '        step = torch.linalg.vector_norm(x_new - x, dim=0)\n'
                '        if bool((factor * step <= tol).all()):\n'
                '            return x_new, k\n'
                '        x = x_new\n'
                '    raise RuntimeError(f"no convergence to tol={tol} within max_iter={max_iter} steps")\n'
            ),
        },
        "loses": ["fixed-point-test"],
    },
    "fixed_point_one_step_past_max_iter": {
        "replace": {
            "fixed-point-solution": (
                'def fixed_point_inverse(g, y: torch.Tensor, lipschitz: float, tol: float = 1e-10,\n'
                '                        max_iter: int = 1000) -> tuple[torch.Tensor, int]:\n'
                '    """Solve x + g(x) = y by x_{k+1} = y - g(x_k), x_0 = y; return (x, number of steps)."""\n'
                '    \n'
                '    factor = lipschitz / (1 - lipschitz)\n'
                '    x = y.clone()\n'
                '    for k in range(1, max_iter + 2):\n'
                '        x_new = y - g(x)\n'
                '        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n'
                '        if bool((factor * step <= tol).all()):\n'
                '            return x_new, k\n'
                '        x = x_new\n'
                '    raise RuntimeError(f"no convergence to tol={tol} within max_iter={max_iter} steps")\n'
            ),
        },
        "loses": ["fixed-point-test"],
    },
    "fixed_point_a_priori_banach_count": {
        "replace": {
            "fixed-point-solution": (
                'def fixed_point_inverse(g, y: torch.Tensor, lipschitz: float, tol: float = 1e-10,\n'
                '                        max_iter: int = 1000) -> tuple[torch.Tensor, int]:\n'
                '    """Solve x + g(x) = y by x_{k+1} = y - g(x_k), x_0 = y; return (x, number of steps)."""\n'
                '    x1 = y - g(y)\n'
                '    first = float(torch.linalg.vector_norm(x1 - y, dim=-1).max())\n'
                '    k = 0\n'
                '    while lipschitz**k / (1 - lipschitz) * first > tol:\n'
                '        k += 1\n'
                '    k = max(k, 1)\n'
                '    if k > max_iter:\n'
                '        raise RuntimeError(f"Banach needs {k} > max_iter={max_iter} steps")\n'
                '    x = y.clone()\n'
                '    for _ in range(k):\n'
                '        x = y - g(x)\n'
                '    return x, k\n'
            ),
        },
        "loses": ["fixed-point-test"],
    },
    "fixed_point_float32_iteration": {
        "replace": {
            "fixed-point-solution": (
                'def fixed_point_inverse(g, y: torch.Tensor, lipschitz: float, tol: float = 1e-10,\n'
                '                        max_iter: int = 1000) -> tuple[torch.Tensor, int]:\n'
                '    """Solve x + g(x) = y by x_{k+1} = y - g(x_k), x_0 = y; return (x, number of steps)."""\n'
                '    factor = lipschitz / (1 - lipschitz)\n'
                '    y32 = y.float()\n'
                '    x = y32.clone()\n'
                '    for k in range(1, max_iter + 1):\n'
                '        x_new = y32 - g(x)\n'
                '        step = torch.linalg.vector_norm(x_new - x, dim=-1)\n'
                '        if bool((factor * step <= tol).all()):\n'
                '            return x_new.to(y.dtype), k\n'
                '        x = x_new\n'
                '    raise RuntimeError(f"no convergence to tol={tol} within max_iter={max_iter} steps")\n'
            ),
        },
        "loses": ["fixed-point-test"],
    },
    "experiment_norm_over_rows_dim0": {
        "replace": {
            "experiment-solution": (
                'def steps_to_tolerance(g, x_true: torch.Tensor, tol: float, max_iter: int = 100_000) -> int:\n'
                '    """Smallest k >= 0 with ||x_k - x_true|| <= tol in every row, for x_0 = y, x_(k+1) = y - g(x_k)."""\n'
                '    y = x_true + g(x_true)\n'
                '    x = y.clone()\n'
                '    for k in range(max_iter + 1):\n'
                '        err = torch.linalg.vector_norm(x - x_true, dim=0)\n'
                '        if bool((err <= tol).all()):\n'
                '            return k\n'
                '        x = y - g(x)\n'
                '    raise RuntimeError(f"{max_iter} steps do not reach tol={tol}")\n'
                '\n'
                '\n'
                'STEPS_WORST = steps_to_tolerance(g_worst, x_exp, 1e-8)\n'
                'STEPS_TANH = steps_to_tolerance(g_tanh, x_exp, 1e-8)\n'
                'first_step = float(torch.linalg.vector_norm(g_worst(x_exp + g_worst(x_exp)), dim=-1).max())\n'
                'BANACH_WORST = banach_iterations(0.9, first_step, 1e-8)\n'
                'first_step_t = float(torch.linalg.vector_norm(g_tanh(x_exp + g_tanh(x_exp)), dim=-1).max())\n'
                'BANACH_TANH = banach_iterations(0.9, first_step_t, 1e-8)\n'
                'TIGHT_FOR = "worst"\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_reports_banach_counts": {
        "replace": {
            "experiment-solution": (
                'def steps_to_tolerance(g, x_true: torch.Tensor, tol: float, max_iter: int = 100_000) -> int:\n'
                '    """Smallest k >= 0 with ||x_k - x_true|| <= tol in every row, for x_0 = y, x_(k+1) = y - g(x_k)."""\n'
                '    y = x_true + g(x_true)\n'
                '    x = y.clone()\n'
                '    for k in range(max_iter + 1):\n'
                '        err = torch.linalg.vector_norm(x - x_true, dim=-1)\n'
                '        if bool((err <= tol).all()):\n'
                '            return k\n'
                '        x = y - g(x)\n'
                '    raise RuntimeError(f"{max_iter} steps do not reach tol={tol}")\n'
                '\n'
                '\n'
                'first_step = float(torch.linalg.vector_norm(g_worst(x_exp + g_worst(x_exp)), dim=-1).max())\n'
                'STEPS_WORST = banach_iterations(0.9, first_step, 1e-8)\n'
                'first_step_t = float(torch.linalg.vector_norm(g_tanh(x_exp + g_tanh(x_exp)), dim=-1).max())\n'
                'STEPS_TANH = banach_iterations(0.9, first_step_t, 1e-8)\n'
                'TIGHT_FOR = "worst"\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_first_row_only": {
        "replace": {
            "experiment-solution": (
                'def steps_to_tolerance(g, x_true: torch.Tensor, tol: float, max_iter: int = 100_000) -> int:\n'
                '    """Smallest k >= 0 with ||x_k - x_true|| <= tol in every row, for x_0 = y, x_(k+1) = y - g(x_k)."""\n'
                '    y = x_true + g(x_true)\n'
                '    x = y.clone()\n'
                '    for k in range(max_iter + 1):\n'
                '        err = torch.linalg.vector_norm(x - x_true, dim=-1)\n'
                '        if bool((err <= tol).all()):\n'
                '            return k\n'
                '        x = y - g(x)\n'
                '    raise RuntimeError(f"{max_iter} steps do not reach tol={tol}")\n'
                '\n'
                '\n'
                'STEPS_WORST = steps_to_tolerance(g_worst, x_exp[:1], 1e-8)\n'
                'STEPS_TANH = steps_to_tolerance(g_tanh, x_exp[:1], 1e-8)\n'
                'TIGHT_FOR = "worst"\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_median_over_rows": {
        "replace": {
            "experiment-solution": (
                'def steps_to_tolerance(g, x_true: torch.Tensor, tol: float, max_iter: int = 100_000) -> int:\n'
                '    """Smallest k >= 0 with ||x_k - x_true|| <= tol in every row, for x_0 = y, x_(k+1) = y - g(x_k)."""\n'
                '    y = x_true + g(x_true)\n'
                '    x = y.clone()\n'
                '    for k in range(max_iter + 1):\n'
                '        err = torch.linalg.vector_norm(x - x_true, dim=-1)\n'
                '        if bool((err <= tol).all()):\n'
                '            return k\n'
                '        x = y - g(x)\n'
                '    raise RuntimeError(f"{max_iter} steps do not reach tol={tol}")\n'
                '\n'
                '\n'
                'STEPS_WORST = int(torch.tensor([steps_to_tolerance(g_worst, x_exp[i:i + 1], 1e-8) for i in range(40)]).median())\n'
                'STEPS_TANH = int(torch.tensor([steps_to_tolerance(g_tanh, x_exp[i:i + 1], 1e-8) for i in range(40)]).median())\n'
                'TIGHT_FOR = "worst"\n'
            ),
        },
        "loses": ["experiment-test"],
    },
}
