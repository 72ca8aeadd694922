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
        "loses": ["pinv-wide-test", "pinv-tall-test"],  # tall too since the rank-deficient and cond-1e6 cases (issue 15)
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
            "        raise ValueError(f'{int(active.sum())} active units, {W.shape[1]} needed')\n"
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
    # ---- Part A (pinv-wide-test, pinv-tall-test): mistakes the visible tests let through
    "pinv_transpose_over_squared_frobenius_norm": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W, b, y):\n"
            "    return (y - b) @ W / (W ** 2).sum()  # W^+ = W^T / ||W||^2, as for a single row\n"
        )},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "pinv_absolute_singular_value_cutoff": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W, b, y):\n"
            "    U, S, Vh = torch.linalg.svd(W, full_matrices=False)\n"
            "    keep = S > 1e-10\n"
            "    return ((y - b) @ U[:, keep] / S[keep]) @ Vh[keep]\n"
        )},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "pinv_always_float64": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W, b, y):\n"
            "    return (y.double() - b.double()) @ torch.linalg.pinv(W.double()).T\n"
        )},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "pinv_subtracts_bias_in_place": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W, b, y):\n"
            "    y -= b\n"
            "    return y @ torch.linalg.pinv(W).T\n"
        )},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    # ---- Part B (relu-test, relu-edge-test)
    "relu_square_solve_on_first_n_active_rows": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    n = W.shape[1]\n"
            "    rank = int(torch.linalg.matrix_rank(W[active])) if active.any() else 0\n"
            "    if rank < n:\n"
            "        raise ValueError(f'{int(active.sum())} active units of rank {rank}, {n} needed')\n"
            "    return torch.linalg.solve(W[active][:n], (y - b)[active][:n])  # n equations for n unknowns\n"
        )},
        "loses": ["relu-test", "relu-edge-test"],
    },
    "relu_absolute_activity_threshold": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 1e-6  # ignore units that are only numerically positive\n"
            "    n = W.shape[1]\n"
            "    rank = int(torch.linalg.matrix_rank(W[active])) if active.any() else 0\n"
            "    if rank < n:\n"
            "        raise ValueError(f'{int(active.sum())} active units of rank {rank}, {n} needed')\n"
            "    return torch.linalg.lstsq(W[active], (y - b)[active, None]).solution[:, 0]\n"
        )},
        "loses": ["relu-test", "relu-edge-test"],
    },
    "relu_activity_threshold_1e_9": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y.abs() > 1e-9  # |y| < 1e-9 is a zero that rounding made positive\n"
            "    n = W.shape[1]\n"
            "    rank = int(torch.linalg.matrix_rank(W[active])) if active.any() else 0\n"
            "    if rank < n:\n"
            "        raise ValueError(f'{int(active.sum())} active units of rank {rank}, {n} needed')\n"
            "    return torch.linalg.lstsq(W[active], (y - b)[active, None]).solution[:, 0]\n"
        )},
        "loses": ["relu-test"],
    },
    "relu_float32_solve": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    n = W.shape[1]\n"
            "    rank = int(torch.linalg.matrix_rank(W[active])) if active.any() else 0\n"
            "    if rank < n:\n"
            "        raise ValueError(f'{int(active.sum())} active units of rank {rank}, {n} needed')\n"
            "    A, r = W[active].float(), (y - b)[active].float()\n"
            "    return torch.linalg.lstsq(A, r[:, None]).solution[:, 0].to(y.dtype)\n"
        )},
        "loses": ["relu-test", "relu-edge-test"],
    },
    "relu_determinant_exactly_zero": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    A = W[active]\n"
            "    if torch.linalg.det(A.T @ A) == 0:\n"
            "        raise ValueError(f'{int(active.sum())} active units, {W.shape[1]} independent ones needed')\n"
            "    return torch.linalg.lstsq(A, (y - b)[active, None]).solution[:, 0]\n"
        )},
        "loses": ["relu-edge-test"],
    },
    "relu_determinant_absolute_threshold": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    A = W[active]\n"
            "    if torch.linalg.det(A.T @ A).abs() < 1e-10:\n"
            "        raise ValueError(f'{int(active.sum())} active units, {W.shape[1]} independent ones needed')\n"
            "    return torch.linalg.lstsq(A, (y - b)[active, None]).solution[:, 0]\n"
        )},
        "loses": ["relu-test", "relu-edge-test"],
    },
    "relu_error_message_without_counts": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    active = y > 0\n"
            "    if active.sum() == 0 or int(torch.linalg.matrix_rank(W[active])) < W.shape[1]:\n"
            "        raise ValueError('x is not determined by the active units')\n"
            "    return torch.linalg.lstsq(W[active], (y - b)[active, None]).solution[:, 0]\n"
        )},
        "loses": ["relu-edge-test"],
    },
    # ---- Part C (rate-test)
    "rate_zero_preactivation_counts_as_active": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W, b, X):\n"
            "    n, ok = W.shape[1], 0\n"
            "    for x in X:\n"
            "        active = (W @ x + b) >= 0\n"
            "        ok += int(active.sum() >= n and int(torch.linalg.matrix_rank(W[active])) == n)\n"
            "    return ok / X.shape[0]\n"
        )},
        "loses": ["rate-test"],
    },
    "rate_rounded_to_two_decimals": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W, b, X):\n"
            "    n, ok = W.shape[1], 0\n"
            "    for x in X:\n"
            "        active = (W @ x + b) > 0\n"
            "        ok += int(active.sum() >= n and int(torch.linalg.matrix_rank(W[active])) == n)\n"
            "    return round(ok / X.shape[0], 2)\n"
        )},
        "loses": ["rate-test"],
    },
    "rate_denominator_only_inputs_with_active_units": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W, b, X):\n"
            "    n, ok, seen = W.shape[1], 0, 0\n"
            "    for x in X:\n"
            "        active = (W @ x + b) > 0\n"
            "        if not active.any():\n"
            "            continue  # nothing to invert\n"
            "        seen += 1\n"
            "        ok += int(torch.linalg.matrix_rank(W[active])) == n\n"
            "    return ok / seen\n"
        )},
        "loses": ["rate-test"],
    },
    "rate_absolute_singular_value_cutoff": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W, b, X):\n"
            "    n, ok = W.shape[1], 0\n"
            "    for x in X:\n"
            "        A = W[(W @ x + b) > 0]\n"
            "        ok += A.shape[0] > 0 and int((torch.linalg.svdvals(A) > 1e-6).sum()) == n\n"
            "    return ok / X.shape[0]\n"
        )},
        "loses": ["rate-test"],
    },
    # ---- Part D (width-test): the experiment
    "width_one_layer_for_all_trials": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m, n):\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n\n\n"
            "def measured_recoverable_fraction(m, n, trials, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    return recoverable_fraction(W, torch.zeros(m, dtype=torch.float64), X)\n\n\n"
            "SMALLEST_M_99 = 27\n"
        )},
        "loses": ["width-test"],
    },
    "width_inputs_drawn_before_layers": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m, n):\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n\n\n"
            "def measured_recoverable_fraction(m, n, trials, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    active = (W @ X[:, :, None])[:, :, 0] > 0\n"
            "    return float((torch.linalg.matrix_rank(W * active[:, :, None]) == n).double().mean())\n\n\n"
            "SMALLEST_M_99 = 27\n"
        )},
        "loses": ["width-test"],
    },
    "width_ignores_the_seed": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m, n):\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n\n\n"
            "def measured_recoverable_fraction(m, n, trials, seed):\n"
            "    torch.manual_seed(0)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    active = (W @ X[:, :, None])[:, :, 0] > 0\n"
            "    return float((torch.linalg.matrix_rank(W * active[:, :, None]) == n).double().mean())\n\n\n"
            "SMALLEST_M_99 = 27\n"
        )},
        "loses": ["width-test"],
    },
    "width_smallest_m_from_a_rounded_fraction": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m, n):\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n\n\n"
            "def measured_recoverable_fraction(m, n, trials, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    active = (W @ X[:, :, None])[:, :, 0] > 0\n"
            "    return float((torch.linalg.matrix_rank(W * active[:, :, None]) == n).double().mean())\n\n\n"
            "SMALLEST_M_99 = next(m for m in range(8, 60) if round(predicted_recoverable_fraction(m, 8), 2) >= 0.99)\n"
        )},
        "loses": ["width-test"],
    },
    "width_prediction_more_than_n_active": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m, n):\n"
            "    return sum(math.comb(m, j) for j in range(n + 1, m + 1)) / 2 ** m\n\n\n"
            "def measured_recoverable_fraction(m, n, trials, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    active = (W @ X[:, :, None])[:, :, 0] > 0\n"
            "    return float((torch.linalg.matrix_rank(W * active[:, :, None]) == n).double().mean())\n\n\n"
            "SMALLEST_M_99 = 29\n"
        )},
        "loses": ["width-test"],
    },
    # issue 15 outsider probe: the chapter's full-rank formulas W^T (W W^T)^-1 and (W^T W)^-1 W^T (a right variant
    # before): singular on a rank-deficient W, and the tall one squares cond(W) (1e6: error ~1e-4 > 1e-6)
    "pinv_normal_equations_both_shapes": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W, b, y):\n"
            "    r = (y - b).T\n"
            "    if W.shape[0] <= W.shape[1]:\n"
            "        return (W.T @ torch.linalg.solve(W @ W.T, r)).T\n"
            "    return torch.linalg.solve(W.T @ W, W.T @ r).T\n")},
        "loses": ["pinv-wide-test", "pinv-tall-test"],
    },
    "pinv_normal_equations_wide_only": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
            "    \"\"\"Return the x of shape (n, d_in) solving x @ W.T + b = y: minimum-norm if W is wide, least-squares if tall.\"\"\"\n"
            "    r = y - b\n"
            "    if W.shape[0] < W.shape[1]:\n"
            "        return torch.linalg.solve(W @ W.T, r.T).T @ W\n"
            "    return r @ torch.linalg.pinv(W).T\n")},
        "loses": ["pinv-wide-test"],
    },
    "pinv_normal_equations_tall_only": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
            "    \"\"\"Return the x of shape (n, d_in) solving x @ W.T + b = y: minimum-norm if W is wide, least-squares if tall.\"\"\"\n"
            "    r = y - b\n"
            "    if W.shape[0] > W.shape[1]:\n"
            "        return torch.linalg.solve(W.T @ W, W.T @ r.T).T\n"
            "    return r @ torch.linalg.pinv(W).T\n")},
        "loses": ["pinv-tall-test"],
    },
    "pinv_tall_projects_on_each_column": {
        "replace": {"pinv-solution": (
            "def pinv_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
            "    \"\"\"Return the x of shape (n, d_in) solving x @ W.T + b = y: minimum-norm if W is wide, least-squares if tall.\"\"\"\n"
            "    r = y - b\n"
            "    if W.shape[0] > W.shape[1]:\n"
            "        return (r @ W) / (W ** 2).sum(0)\n"
            "    return r @ torch.linalg.pinv(W).T\n")},
        "loses": ["pinv-tall-test"],
    },
    # issue 15 outsider probe: solve(A^T A, A^T r) on the active rows (a right variant before) squares their
    # condition number: cond 1e7 gives an error ~1e-3 > 1e-5
    "relu_normal_equations": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W, b, y):\n"
            "    mask = y > 0\n"
            "    A, r = W[mask], (y - b)[mask]\n"
            "    n = W.shape[1]\n"
            "    rank = int(torch.linalg.matrix_rank(A)) if A.shape[0] else 0\n"
            "    if rank != n:\n"
            "        raise ValueError(f'{A.shape[0]} active units span rank {rank}; {n} are needed')\n"
            "    return torch.linalg.solve(A.T @ A, A.T @ r)  # the normal equations\n")},
        "loses": ["relu-test"],
    },
    # issue 15 outsider probe: 'only 2 units are active' when 4 are active with rank 2: 10/10 before
    "relu_message_reports_the_rank_as_active_units": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
            "    \"\"\"Return x with relu(W x + b) == y, using only the active units (y > 0).\"\"\"\n"
            "    n = W.shape[1]\n"
            "    active = y > 0\n"
            "    Wa = W[active]\n"
            "    ra = (y - b)[active]\n"
            "    r = int(torch.linalg.matrix_rank(Wa))\n"
            "    if r < n:\n"
            "        raise ValueError(f\"only {r} units are active, {n} are needed\")\n"
            "    return torch.linalg.lstsq(Wa, ra[:, None]).solution[:, 0]\n")},
        "loses": ["relu-edge-test"],
    },
    "relu_message_without_the_active_count": {
        "replace": {"relu-solution": (
            "def relu_layer_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
            "    \"\"\"Return x with relu(W x + b) == y, using only the active units (y > 0).\"\"\"\n"
            "    n = W.shape[1]\n"
            "    active = y > 0\n"
            "    Wa = W[active]\n"
            "    ra = (y - b)[active]\n"
            "    r = int(torch.linalg.matrix_rank(Wa))\n"
            "    if r < n:\n"
            "        raise ValueError(f\"x is not determined: need {n} independent active units\")\n"
            "    return torch.linalg.lstsq(Wa, ra[:, None]).solution[:, 0]\n")},
        "loses": ["relu-edge-test"],
    },
    "rate_own_rank_crashes_without_active_units": {
        "replace": {"rate-solution": (
            "def recoverable_fraction(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor) -> float:\n"
            "    \"\"\"Fraction of rows x of X whose active units (W x + b > 0) have rows of W of rank n.\"\"\"\n"
            "    n = W.shape[1]\n"
            "    pre = X @ W.T + b\n"
            "    count = 0\n"
            "    for i in range(X.shape[0]):\n"
            "        act = pre[i] > 0\n"
            "        if int((torch.linalg.svdvals(W[act]) > 1e-10 * torch.linalg.svdvals(W[act]).max()).sum()) == n:\n"
            "            count += 1\n"
            "    return count / X.shape[0]\n")},
        "loses": ["rate-test"],
    },
    # issue 15 outsider probe: a 0-dim tensor, not a Python float: 10/10 before
    "width_prediction_returns_a_tensor": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    terms = torch.tensor([float(math.comb(m, j)) for j in range(n, m + 1)], dtype=torch.float64)\n"
            "    return terms.sum() / 2 ** m\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    count = 0\n"
            "    for t in range(trials):\n"
            "        active = W[t] @ X[t] > 0\n"
            "        if int(torch.linalg.matrix_rank(W[t][active])) == n:\n"
            "            count += 1\n"
            "    return count / trials\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 27\n")},
        "loses": ["width-test"],
    },
    # issue 15 outsider probe: comb(m, j) * 0.5**m: OverflowError for m >= ~1030: 10/10 before
    "width_prediction_overflows_for_wide_layers": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    return sum(math.comb(m, j) * 0.5 ** m for j in range(n, m + 1))\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    count = 0\n"
            "    for t in range(trials):\n"
            "        active = W[t] @ X[t] > 0\n"
            "        if int(torch.linalg.matrix_rank(W[t][active])) == n:\n"
            "            count += 1\n"
            "    return count / trials\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 27\n")},
        "loses": ["width-test"],
    },
    "width_measurement_returns_the_prediction": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    return predicted_recoverable_fraction(m, n)\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 27\n")},
        "loses": ["width-test"],
    },
    "width_measurement_float32_draws": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n).double()\n"
            "    X = torch.randn(trials, n).double()\n"
            "    count = 0\n"
            "    for t in range(trials):\n"
            "        active = W[t] @ X[t] > 0\n"
            "        if int(torch.linalg.matrix_rank(W[t][active])) == n:\n"
            "            count += 1\n"
            "    return count / trials\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 27\n")},
        "loses": ["width-test"],
    },
    "width_measurement_draws_per_trial": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    torch.manual_seed(seed)\n"
            "    count = 0\n"
            "    for t in range(trials):\n"
            "        W = torch.randn(m, n, dtype=torch.float64)\n"
            "        x = torch.randn(n, dtype=torch.float64)\n"
            "        active = W @ x > 0\n"
            "        if int(torch.linalg.matrix_rank(W[active])) == n:\n"
            "            count += 1\n"
            "    return count / trials\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 27\n")},
        "loses": ["width-test"],
    },
    "width_measurement_skips_a_trial": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    count = 0\n"
            "    for t in range(trials - 1):\n"
            "        active = W[t] @ X[t] > 0\n"
            "        if int(torch.linalg.matrix_rank(W[t][active])) == n:\n"
            "            count += 1\n"
            "    return count / trials\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 27\n")},
        "loses": ["width-test"],
    },
    "width_smallest_m_is_2n": {
        "replace": {"width-solution": (
            "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
            "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
            "    return sum(math.comb(m, j) for j in range(n, m + 1)) / 2 ** m\n"
            "\n"
            "\n"
            "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
            "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
            "    torch.manual_seed(seed)\n"
            "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
            "    X = torch.randn(trials, n, dtype=torch.float64)\n"
            "    count = 0\n"
            "    for t in range(trials):\n"
            "        active = W[t] @ X[t] > 0\n"
            "        if int(torch.linalg.matrix_rank(W[t][active])) == n:\n"
            "            count += 1\n"
            "    return count / trials\n"
            "\n"
            "\n"
            "SMALLEST_M_99 = 16\n")},
        "loses": ["width-test"],
    },
}
