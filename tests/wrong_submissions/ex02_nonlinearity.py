"""Plausible wrong answers to ex02_nonlinearity; each must lose points where stated."""

_ELU_CHECK = "    if bool((y <= -alpha).any()):\n        raise ValueError('outside the range')\n"

WRONG = {
    "elu_forgot_alpha": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    if bool((y <= -1).any()):\n        raise ValueError('outside the range')\n    return torch.where(y > 0, y, torch.log1p(y))\n"},
        "loses": ["elu-test-basic", "elu-test-range"],
    },
    "elu_branches_swapped": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    return torch.where(y < 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-basic"],
        "keeps": ["tanh-test", "breakdown-test", "mlp-test"],
    },
    "elu_float32": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    y = y.float()\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-basic"],
    },
    "elu_no_range_check": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-range"],
    },
    "tanh_plain_atanh": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "tanh_endpoints_allowed": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    if bool((y.abs() > 1).any()):\n        raise ValueError('outside (-1, 1)')\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "tanh_nan_slips_through": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    if bool((y.abs() >= 1).any()):\n        raise ValueError('outside (-1, 1)')\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "breakdown_always_float64": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n    return float(xs[torch.tanh(xs) == 1][0])\n"},
        "loses": ["breakdown-test"],
    },
    "breakdown_last_unsaturated": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n    return float(xs[torch.tanh(xs.to(dtype)) < 1][-1])\n"},
        "loses": ["breakdown-test"],
    },
    "mlp_forgot_bias": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        if k < len(weights) - 1:\n            h = torch.where(h >= 0, h, h / slope)\n        h = torch.linalg.solve(weights[k], h.T).T\n    return h\n"},
        "loses": ["mlp-test"],
    },
    "mlp_forward_order": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights)):\n        h = torch.linalg.solve(weights[k], (h - biases[k]).T).T\n        if k < len(weights) - 1:\n            h = torch.where(h >= 0, h, h / slope)\n    return h\n"},
        "loses": ["mlp-test"],
    },
    "mlp_activation_after_last_layer": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        h = torch.where(h >= 0, h, h / slope)\n        h = torch.linalg.solve(weights[k], (h - biases[k]).T).T\n    return h\n"},
        "loses": ["mlp-test"],
    },
    "mlp_transposed_weights": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        if k < len(weights) - 1:\n            h = torch.where(h >= 0, h, h / slope)\n        h = (h - biases[k]) @ torch.linalg.inv(weights[k])\n    return h\n"},
        "loses": ["mlp-test"],
    },
}

# Issue 15: mistakes that pass the visible tests of each cell (and a few that do not); the hidden tests catch each.
_ROUNDTRIP_RIGHT = (
    "def tanh_roundtrip_error(xs, dtype):\n"
    "    xd = xs.to(dtype)\n"
    "    back = torch.atanh(torch.tanh(xd))\n"
    "    return (back.double() - xd.double()).abs() / xd.double().abs()\n")


def _roundtrip(function: str = _ROUNDTRIP_RIGHT, x3: str = "float(_grid[tanh_roundtrip_error(_grid, torch.float32) > 1e-3][0])",
               decades: str = "2 / math.log(10)") -> str:
    """The Part E answer cell: the function, then the two interpretation numbers."""
    return (function + "\n_grid = torch.arange(0.01, 10, 0.01, dtype=torch.float64)\n"
            + f"X_THREE_DIGITS_FLOAT32 = {x3}\nDECADES_PER_UNIT_X = {decades}\n")


WRONG.update({
    # elu-test-basic
    "elu_log_not_log1p": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    return torch.where(y > 0, y, torch.log(1 + y / alpha))\n"},
        "loses": ["elu-test-basic"],
    },
    "elu_float32_cast_back": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    z = y.float()\n    return torch.where(z > 0, z, torch.log1p(z / alpha)).to(y.dtype)\n"},
        "loses": ["elu-test-basic"],
    },
    "elu_flattens": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    return torch.tensor([v if v > 0 else math.log1p(v / alpha) for v in y.flatten().tolist()], dtype=y.dtype)\n"},
        "loses": ["elu-test-basic"],
    },
    "elu_in_place": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    neg = y <= 0\n    y[neg] = torch.log1p(y[neg] / alpha)\n    return y\n"},
        "loses": ["elu-test-basic"],
    },
    "elu_alpha_multiplies_log": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK + "    return torch.where(y > 0, y, alpha * torch.log1p(y))\n"},
        "loses": ["elu-test-basic", "elu-test-range"],
    },
    # elu-test-range
    "elu_range_all_not_any": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    if bool((y <= -alpha).all()):\n        raise ValueError('outside the range')\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-range"],
    },
    "elu_range_fixed_minus_one": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    if bool((y <= -1).any()):\n        raise ValueError('outside the range')\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-range", "elu-test-basic"],
    },
    "elu_range_nan_after_the_fact": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    x = torch.where(y > 0, y, torch.log1p(y / alpha))\n    if bool(torch.isnan(x).any()):\n        raise ValueError('outside the range')\n    return x\n"},
        "loses": ["elu-test-range"],
    },
    "elu_range_end_point_allowed": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    if bool((y < -alpha).any()):\n        raise ValueError('outside the range')\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-range"],
    },
    # tanh-test
    "tanh_any_instead_of_all": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    valid = y.abs() < 1\n    if not bool(valid.any()):\n        raise ValueError(f'{int((~valid).sum())} entries are outside (-1, 1)')\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "tanh_safety_margin": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    valid = y.abs() < 1 - 1e-6\n    if not bool(valid.all()):\n        raise ValueError(f'{int((~valid).sum())} entries are outside (-1, 1)')\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "tanh_count_misses_nan": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    if bool(torch.isnan(y).any()) or bool((y.abs() >= 1).any()):\n        raise ValueError(f'{int((y.abs() >= 1).sum())} entries are outside (-1, 1)')\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "tanh_float32_cast_back": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    valid = y.abs() < 1\n    if not bool(valid.all()):\n        raise ValueError(f'{int((~valid).sum())} entries are outside (-1, 1)')\n    return torch.atanh(y.float()).to(y.dtype)\n"},
        "loses": ["tanh-test"],
    },
    # breakdown-test
    "breakdown_grid_float32_default": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01).double()\n    return float(xs[torch.tanh(xs.to(dtype)) == 1][0])\n"},
        "loses": ["breakdown-test"],
    },
    "breakdown_grid_in_dtype": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01, dtype=dtype)\n    return float(xs[torch.tanh(xs) == 1][0])\n"},
        "loses": ["breakdown-test"],
    },
    "breakdown_lookup_table": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n    known = {torch.float32: 9.01, torch.float64: 19.06, torch.float16: 4.16}\n    return known[dtype]\n"},
        "loses": ["breakdown-test"],
    },
    # mlp-test
    "mlp_float32_cast_back": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y.float()\n    for k in range(len(weights) - 1, -1, -1):\n        if k < len(weights) - 1:\n            h = torch.where(h >= 0, h, h / slope)\n        h = torch.linalg.solve(weights[k].float(), (h - biases[k].float()).T).T\n    return h.to(y.dtype)\n"},
        "loses": ["mlp-test"],
    },
    "mlp_first_row_only": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y[0]\n    for k in range(len(weights) - 1, -1, -1):\n        if k < len(weights) - 1:\n            h = torch.where(h >= 0, h, h / slope)\n        h = torch.linalg.solve(weights[k], h - biases[k])\n    return h.unsqueeze(0)\n"},
        "loses": ["mlp-test"],
    },
    "mlp_slope_below_one_only": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        if k < len(weights) - 1:\n            h = torch.minimum(h, h / slope)\n        h = torch.linalg.solve(weights[k], (h - biases[k]).T).T\n    return h\n"},
        "loses": ["mlp-test"],
    },
    # roundtrip-test (Part E, the experiment)
    "roundtrip_against_float64_xs": {
        "replace": {"roundtrip-solution": _roundtrip(
            "def tanh_roundtrip_error(xs, dtype):\n"
            "    back = torch.atanh(torch.tanh(xs.to(dtype))).double()\n"
            "    return (back - xs).abs() / xs.abs()\n")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_absolute_error": {
        "replace": {"roundtrip-solution": _roundtrip(_ROUNDTRIP_RIGHT.replace(" / xd.double().abs()", ""))},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_last_grid_point_below": {
        "replace": {"roundtrip-solution": _roundtrip(
            x3="float(_grid[tanh_roundtrip_error(_grid, torch.float32) <= 1e-3][-1])")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_decades_natural_log": {
        "replace": {"roundtrip-solution": _roundtrip(decades="2.0")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_decades_forgets_the_two": {
        "replace": {"roundtrip-solution": _roundtrip(decades="1 / math.log(10)")},
        "loses": ["roundtrip-test"],
    },
})

# Issue 15, second blind attack (written from the release only; elu_absolute_margin, tanh_loop_returns_flat and
# roundtrip_x_grid_float32 kept full marks before the fix).
# Not here: reversing the caller's weight list in place (weights.reverse()) also kept full marks, and no hidden test
# can see it: the grader's boundary writes back tensors changed in place, not a list's new order.
WRONG.update({
    # elu-test-range: an ABSOLUTE safety margin refuses valid y near -alpha (alpha = 1e-10: even y = 0)
    "elu_absolute_margin": {
        "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n    if bool((y <= -alpha + 1e-9).any()):\n        raise ValueError('outside the range')\n    return torch.where(y > 0, y, torch.log1p(y / alpha))\n"},
        "loses": ["elu-test-range"],
    },
    # tanh-test: a Python loop over the flattened entries returns shape (n,) for a (2, 3) input
    "tanh_loop_returns_flat": {
        "replace": {"tanh-solution": (
            "def tanh_inverse_safe(y):\n"
            "    vals = y.flatten().tolist()\n"
            "    n_bad = sum(1 for v in vals if not (-1 < v < 1))\n"
            "    if n_bad:\n"
            "        raise ValueError(f'{n_bad} entries are outside (-1, 1)')\n"
            "    return torch.tensor([math.atanh(v) for v in vals], dtype=y.dtype)\n")},
        "loses": ["tanh-test"],
    },
    "tanh_message_without_count": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    if not bool((y.abs() < 1).all()):\n        raise ValueError('y must lie in the open interval (-1, 1)')\n    return torch.atanh(y)\n"},
        "loses": ["tanh-test"],
    },
    "tanh_log_ratio_formula": {
        "replace": {"tanh-solution": "def tanh_inverse_safe(y):\n    valid = y.abs() < 1\n    if not bool(valid.all()):\n        raise ValueError(f'{int((~valid).sum())} entries are outside (-1, 1)')\n    return 0.5 * torch.log((1 + y) / (1 - y))\n"},
        "loses": ["tanh-test"],
    },
    # breakdown-test
    "breakdown_returns_converted_value": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01, dtype=torch.float64).to(dtype)\n    return float(xs[torch.tanh(xs) == 1][0])\n"},
        "loses": ["breakdown-test"],
    },
    "breakdown_eps_threshold": {
        "replace": {"breakdown-solution": "def tanh_breakdown_x(dtype):\n    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n    return float(xs[torch.tanh(xs.to(dtype)) >= 1 - torch.finfo(dtype).eps][0])\n"},
        "loses": ["breakdown-test"],
    },
    "mlp_bias_after_solve": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        h = torch.linalg.solve(weights[k], h.T).T - biases[k]\n        if k > 0:\n            h = torch.where(h >= 0, h, h / slope)\n    return h\n"},
        "loses": ["mlp-test"],
    },
    "mlp_activation_after_the_wrong_layers": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        h = torch.linalg.solve(weights[k], (h - biases[k]).T).T\n        if k < len(weights) - 1:\n            h = torch.where(h >= 0, h, h / slope)\n    return h\n"},
        "loses": ["mlp-test"],
    },
    "mlp_slope_hardcoded": {
        "replace": {"mlp-solution": "def invert_leaky_mlp(weights, biases, slope, y):\n    h = y\n    for k in range(len(weights) - 1, -1, -1):\n        h = torch.linalg.solve(weights[k], (h - biases[k]).T).T\n        if k > 0:\n            h = torch.where(h >= 0, h, h / 0.5)\n    return h\n"},
        "loses": ["mlp-test"],
    },
    # roundtrip-test
    "roundtrip_error_in_dtype": {
        "replace": {"roundtrip-solution": _roundtrip(
            "def tanh_roundtrip_error(xs, dtype):\n"
            "    xd = xs.to(dtype)\n"
            "    back = torch.atanh(torch.tanh(xd))\n"
            "    return ((back - xd).abs() / xd.abs()).double()\n")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_inplace_abs_mutates_xs": {
        "replace": {"roundtrip-solution": _roundtrip(
            "def tanh_roundtrip_error(xs, dtype):\n"
            "    xd = xs.to(dtype)\n"
            "    back = torch.atanh(torch.tanh(xd)).double()\n"
            "    err = (back - xd.double()).abs_()\n"
            "    return err.div_(xd.abs_().double())\n")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_x_for_good": {
        "replace": {"roundtrip-solution": _roundtrip(
            x3="float(_grid[(tanh_roundtrip_error(_grid, torch.float32) <= 1e-3).nonzero()[-1, 0] + 1])")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_x_predicted": {
        "replace": {"roundtrip-solution": _roundtrip(
            x3="float(_grid[2.0 ** -24 * torch.exp(2 * _grid) / (4 * _grid) > 1e-3][0])")},
        "loses": ["roundtrip-test"],
    },
    "roundtrip_x_from_the_visible_test": {
        "replace": {"roundtrip-solution": _roundtrip(x3="8.0")},
        "loses": ["roundtrip-test"],
    },
    # the grid of the interpretation built in float32: 6.940000057220459, not the float64 grid value 6.94
    "roundtrip_x_grid_float32": {
        "replace": {"roundtrip-solution": _roundtrip(
            x3="float(torch.arange(0.01, 10, 0.01)[tanh_roundtrip_error(torch.arange(0.01, 10, 0.01).double(), torch.float32) > 1e-3][0])")},
        "loses": ["roundtrip-test"],
    },
})

# Found by the hostile round (issue 14): NaN where the naive log(1 + y/alpha) is inaccurate (tiny negative y) slipped
# through a check written as `(err > tol).any()` (a NaN compares False) and earned the point the naive answer loses.
WRONG["elu_nan_where_naive_log_is_inaccurate"] = {
    "replace": {"elu-solution": "def elu_inverse(y, alpha=1.0):\n" + _ELU_CHECK
                + "    x = torch.where(y > 0, y, torch.log(1 + y / alpha))\n"
                + "    return torch.where((y < 0) & (y > -1e-6 * alpha), torch.full_like(y, float('nan')), x)\n"},
    "loses": ["elu-test-basic"],
}
