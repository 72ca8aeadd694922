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
