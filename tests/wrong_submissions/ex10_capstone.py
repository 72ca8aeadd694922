"""Plausible wrong answers to ex10_capstone; each must lose points where stated."""

_INVERT_HEAD = "def invert_relu_rows(W, Y):\n    n = W.shape[1]\n"

WRONG = {
    "invert_counts_active_units_without_rank": {
        "replace": {"invert-solution": _INVERT_HEAD + (
            "    X_hat = torch.full((Y.shape[0], n), float('nan'), dtype=Y.dtype)\n"
            "    det = torch.zeros(Y.shape[0], dtype=torch.bool)\n"
            "    for i, y in enumerate(Y):\n"
            "        a = y > 0\n"
            "        if int(a.sum()) >= n:\n"
            "            X_hat[i] = torch.linalg.lstsq(W[a], y[a][:, None]).solution[:, 0]\n"
            "            det[i] = True\n"
            "    return X_hat, det\n")},
        "loses": ["invert-test"],
    },
    "invert_uses_every_unit": {
        "replace": {"invert-solution": _INVERT_HEAD + (
            "    X_hat = torch.linalg.lstsq(W, Y.T).solution.T\n"
            "    det = torch.tensor([int(torch.linalg.matrix_rank(W[y > 0])) == n if (y > 0).sum() else False for y in Y])\n"
            "    X_hat[~det] = float('nan')\n"
            "    return X_hat, det\n")},
        "loses": ["invert-test", "measure-test", "predict-test"],
    },
    "invert_float32_solve": {
        "replace": {"invert-solution": _INVERT_HEAD + (
            "    X_hat = torch.full((Y.shape[0], n), float('nan'), dtype=Y.dtype)\n"
            "    det = torch.zeros(Y.shape[0], dtype=torch.bool)\n"
            "    for i, y in enumerate(Y):\n"
            "        a = y > 0\n"
            "        if int(a.sum()) >= n and int(torch.linalg.matrix_rank(W[a])) == n:\n"
            "            X_hat[i] = torch.linalg.lstsq(W[a].float(), y[a][:, None].float()).solution[:, 0].double()\n"
            "            det[i] = True\n"
            "    return X_hat, det\n")},
        "loses": ["invert-test", "measure-test", "predict-test"],  # float32 errors exceed the protocol's 1e-8
    },
    "measure_one_layer_for_all_trials": {
        "replace": {"measure-solution": (
            "def measured_success_rate(n, m, N, threshold, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(m, n, dtype=torch.float64)\n"
            "    X = torch.randn(N, n, dtype=torch.float64)\n"
            "    X_hat, det = invert_relu_rows(W, relu_layer(W, X))\n"
            "    err = (X_hat - X).norm(dim=1) / X.norm(dim=1)\n"
            "    return float((det & (err <= threshold)).double().mean())\n")},
        "loses": ["measure-test"],
    },
    "measure_draws_inputs_first": {
        "replace": {"measure-solution": (
            "def measured_success_rate(n, m, N, threshold, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    X = torch.randn(N, n, dtype=torch.float64)\n"
            "    Ws = torch.randn(N, m, n, dtype=torch.float64)\n"
            "    wins = 0\n"
            "    for i in range(N):\n"
            "        x_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], X[i:i + 1]))\n"
            "        wins += bool(det[0]) and float((x_hat[0] - X[i]).norm() / X[i].norm()) <= threshold\n"
            "    return wins / N\n")},
        "loses": ["measure-test"],
    },
    "measure_ignores_threshold": {
        "replace": {"measure-solution": (
            "def measured_success_rate(n, m, N, threshold, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    Ws = torch.randn(N, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(N, n, dtype=torch.float64)\n"
            "    return sum(bool(invert_relu_rows(Ws[i], relu_layer(Ws[i], X[i:i + 1]))[1][0]) for i in range(N)) / N\n")},
        "loses": ["measure-test"],
    },
    "predict_strictly_more_than_n": {
        "replace": {"predict-solution": (
            "def predicted_success_rate(n, m):\n"
            "    return sum(math.comb(m, k) for k in range(n + 1, m + 1)) / 2**m\n\n\n"
            "M_FOR_70 = 22\n")},
        "loses": ["predict-test"],
    },
    "predict_closest_width_not_first_reaching": {
        "replace": {"predict-solution": (
            "def predicted_success_rate(n, m):\n"
            "    return sum(math.comb(m, k) for k in range(n, m + 1)) / 2**m\n\n\n"
            "M_FOR_70 = min(range(10, 60), key=lambda m: abs(predicted_success_rate(10, m) - 0.7))\n")},
        "loses": ["predict-test"],
    },
    "predict_normal_approximation": {
        "replace": {"predict-solution": (
            "def predicted_success_rate(n, m):\n"
            "    z = (n - 0.5 - m / 2) / math.sqrt(m / 4)\n"
            "    return 0.5 * math.erfc(z / math.sqrt(2))\n\n\n"
            "M_FOR_70 = 22\n")},
        "loses": ["predict-test"],
    },
}
