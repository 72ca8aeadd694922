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

# Issue 15, outside attack (phase 1 blind, /tmp/attack/ex10_capstone_findings.md): the first 7 kept points before.
WRONG.update({
    'invert_absolute_rank_cutoff': {  # W of scale 1e-12: nothing determined
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    N, m = Y.shape\n'
                '    n = W.shape[1]\n'
                '    X_hat = torch.full((N, n), float("nan"), dtype=Y.dtype)\n'
                '    det = torch.zeros(N, dtype=torch.bool)\n'
                '    for i in range(N):\n'
                '\n'
                '        act = Y[i] > 0\n'
                '        Wa = W[act]\n'
                '        if Wa.shape[0] >= n and float(torch.linalg.svdvals(Wa).min()) > 1e-10:\n'
                '            det[i] = True\n'
                '            X_hat[i] = torch.linalg.lstsq(Wa, Y[i, act].unsqueeze(1)).solution.squeeze(1)\n'
                '    return X_hat, det\n'
            ),
        },
        "loses": ['invert-test'],
    },
    'invert_zeroes_tiny_outputs_in_place': {  # changes Y when outputs are < 1e-12
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    N, m = Y.shape\n'
                '    n = W.shape[1]\n'
                '    X_hat = torch.full((N, n), float("nan"), dtype=Y.dtype)\n'
                '    det = torch.zeros(N, dtype=torch.bool)\n'
                '    Y[Y < 1e-12] = 0.0   # clean up round-off before looking at the active units\n'
                '    for i in range(N):\n'
                '        act = Y[i] > 0\n'
                '        Wa = W[act]\n'
                '        if Wa.shape[0] >= n and int(torch.linalg.matrix_rank(Wa)) == n:\n'
                '            det[i] = True\n'
                '            X_hat[i] = torch.linalg.lstsq(Wa, Y[i, act].unsqueeze(1)).solution.squeeze(1)\n'
                '    return X_hat, det\n'
            ),
        },
        "loses": ['invert-test'],
    },
    'invert_first_n_active_rows': {
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    N, m = Y.shape\n'
                '    n = W.shape[1]\n'
                '    X_hat = torch.full((N, n), float("nan"), dtype=Y.dtype)\n'
                '    det = torch.zeros(N, dtype=torch.bool)\n'
                '    for i in range(N):\n'
                '\n'
                '        act = torch.nonzero(Y[i] > 0).flatten()\n'
                '        if len(act) >= n and int(torch.linalg.matrix_rank(W[act])) == n:\n'
                '            det[i] = True\n'
                '            rows = act[:n]\n'
                '            X_hat[i] = torch.linalg.solve(W[rows], Y[i, rows])\n'
                '    return X_hat, det\n'
            ),
        },
        "loses": ['invert-test'],
    },
    'invert_activity_threshold_1e-9': {
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    N, m = Y.shape\n'
                '    n = W.shape[1]\n'
                '    X_hat = torch.full((N, n), float("nan"), dtype=Y.dtype)\n'
                '    det = torch.zeros(N, dtype=torch.bool)\n'
                '    for i in range(N):\n'
                '\n'
                '        act = Y[i] > 1e-9\n'
                '        Wa = W[act]\n'
                '        if Wa.shape[0] >= n and int(torch.linalg.matrix_rank(Wa)) == n:\n'
                '            det[i] = True\n'
                '            X_hat[i] = torch.linalg.lstsq(Wa, Y[i, act].unsqueeze(1)).solution.squeeze(1)\n'
                '    return X_hat, det\n'
            ),
        },
        "loses": ['invert-test'],
    },
    'measure_strictly_below_threshold': {  # threshold 0: exact recoveries do not count
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        x = X[i:i+1]\n'
                '        X_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], x))\n'
                '        if bool(det[0]):\n'
                '            err = float((X_hat[0] - x[0]).norm() / x[0].norm())\n'
                '            if err < threshold:\n'
                '                ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'measure_absolute_error': {  # not divided by ||x||
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        x = X[i:i+1]\n'
                '        X_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], x))\n'
                '        if bool(det[0]):\n'
                '            err = float((X_hat[0] - x[0]).norm())\n'
                '            if err <= threshold:\n'
                '                ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'measure_squared_relative_error': {
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        x = X[i:i+1]\n'
                '        X_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], x))\n'
                '        if bool(det[0]):\n'
                '            err = float(((X_hat[0] - x[0]).norm() / x[0].norm()) ** 2)\n'
                '            if err <= threshold:\n'
                '                ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'measure_float32_draws': {
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    Ws = torch.randn(N, m, n).double()\n'
                '    X = torch.randn(N, n).double()\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        x = X[i:i+1]\n'
                '        X_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], x))\n'
                '        if bool(det[0]):\n'
                '            err = float((X_hat[0] - x[0]).norm() / x[0].norm())\n'
                '            if err <= threshold:\n'
                '                ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'measure_draws_per_trial': {
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        W = torch.randn(m, n, dtype=torch.float64)\n'
                '        x = torch.randn(1, n, dtype=torch.float64)\n'
                '        X_hat, det = invert_relu_rows(W, relu_layer(W, x))\n'
                '        if bool(det[0]) and float((X_hat[0] - x[0]).norm() / x[0].norm()) <= threshold:\n'
                '            ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'measure_ignores_N': {
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    N = 200\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        x = X[i:i+1]\n'
                '        X_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], x))\n'
                '        if bool(det[0]):\n'
                '            err = float((X_hat[0] - x[0]).norm() / x[0].norm())\n'
                '            if err <= threshold:\n'
                '                ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'measure_no_seed': {
        "replace": {
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    ok = 0\n'
                '    for i in range(N):\n'
                '        x = X[i:i+1]\n'
                '        X_hat, det = invert_relu_rows(Ws[i], relu_layer(Ws[i], x))\n'
                '        if bool(det[0]):\n'
                '            err = float((X_hat[0] - x[0]).norm() / x[0].norm())\n'
                '            if err <= threshold:\n'
                '                ok += 1\n'
                '    return ok / N\n'
            ),
        },
        "loses": ['measure-test'],
    },
    'predict_float_terms_overflow': {  # OverflowError at m = 1100
        "replace": {
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                '    return sum(math.comb(m, k) * 0.5**m for k in range(n, m + 1))\n'
                '\n'
                'M_FOR_70 = next(m for m in range(10, 200) if predicted_success_rate(10, m) >= 0.7)\n'
            ),
        },
        "loses": ['predict-test'],
    },
    'predict_pmf_recursion_underflows': {  # 0.5 ** 1100 = 0
        "replace": {
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                '    p = 0.5 ** m          # P(K = 0)\n'
                '    total = 0.0\n'
                '    for k in range(m + 1):\n'
                '        if k >= n:\n'
                '            total += p\n'
                '        p = p * (m - k) / (k + 1)\n'
                '    return total\n'
                '\n'
                'M_FOR_70 = next(m for m in range(10, 200) if predicted_success_rate(10, m) >= 0.7)\n'
            ),
        },
        "loses": ['predict-test'],
    },
    'predict_m70_is_2n': {
        "replace": {
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                '    return sum(math.comb(m, k) for k in range(n, m + 1)) / 2**m\n'
                '\n'
                'M_FOR_70 = 20  # "half the units are active, so m = 2 n"\n'
            ),
        },
        "loses": ['predict-test'],
    },
    'predict_m70_last_below': {
        "replace": {
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                '    return sum(math.comb(m, k) for k in range(n, m + 1)) / 2**m\n'
                '\n'
                'M_FOR_70 = next(m for m in range(10, 200) if predicted_success_rate(10, m + 1) >= 0.7)\n'
            ),
        },
        "loses": ['predict-test'],
    },
})

WRONG.update({
    # was part of a right submission: comb(m, k) * 0.5 ** m overflows once m > ~1030 (the release asks for m in the
    # thousands)
    "predict_fsum_of_float_terms": {
        "replace": {"predict-solution": (
            "def predicted_success_rate(n, m):\n"
            "    return math.fsum(math.comb(m, k) * 0.5 ** m for k in range(n, m + 1))\n\n\n"
            "M_FOR_70 = 22\n")},
        "loses": ["predict-test"],
    },
})
