"""Plausible wrong answers to ex04_dimensionality; each must lose points where stated."""

WRONG = {
    "pinv_forgot_bias": {
        "replace": {"pinv-solution": "def pinv_inverse(W, b, y):\n    return y @ torch.linalg.pinv(W).T\n"},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "pinv_transpose_instead": {
        "replace": {"pinv-solution": "def pinv_inverse(W, b, y):\n    return (y - b) @ W\n"},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "pinv_normal_equations_only": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W, b, y):\n"
            "    return torch.linalg.solve(W.T @ W, W.T @ (y - b).T).T\n"
        )},
        "loses": ["pinv-wide-test"],
    },
    "pinv_float32": {
        "replace": {"pinv-solution": "def pinv_inverse(W, b, y):\n    return (y - b).float() @ torch.linalg.pinv(W.float()).T\n"},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "relu_mask_includes_zeros": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y >= 0\n"
            "    if int(torch.linalg.matrix_rank(W[active])) < W.shape[1]:\n"
            "        raise ValueError('not enough active units')\n"
            "    return torch.linalg.lstsq(W[active], (y[active] - b[active]).unsqueeze(-1)).solution.squeeze(-1)\n"
        )},
        "loses": ["relu-test", "relu-edge-test"],
    },
    "relu_forgot_bias": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    if int(torch.linalg.matrix_rank(W[active])) < W.shape[1]:\n"
            "        raise ValueError('not enough active units')\n"
            "    return torch.linalg.lstsq(W[active], y[active].unsqueeze(-1)).solution.squeeze(-1)\n"
        )},
        "loses": ["relu-test"],
    },
    "relu_counts_units_not_rank": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    if int(active.sum()) < W.shape[1]:\n"
            "        raise ValueError('not enough active units')\n"
            "    return torch.linalg.lstsq(W[active], (y[active] - b[active]).unsqueeze(-1)).solution.squeeze(-1)\n"
        )},
        "loses": ["relu-edge-test"],
    },
    "rate_counts_active_units_not_rank": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W, b, X):\n"
            "    active = (X @ W.T + b) > 0\n"
            "    return float((active.sum(dim=1) >= W.shape[1]).double().mean())\n"
        )},
        "loses": ["rate-test"],
    },
    "rate_ignores_bias": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W, b, X):\n"
            "    n, ok = W.shape[1], 0\n"
            "    for x in X:\n"
            "        active = (W @ x) > 0\n"
            "        ok += int(active.sum() >= n and int(torch.linalg.matrix_rank(W[active])) == n)\n"
            "    return ok / X.shape[0]\n"
        )},
        "loses": ["rate-test"],
    },
}
