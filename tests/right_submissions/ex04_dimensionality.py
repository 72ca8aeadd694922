"""Correct answers to ex04_dimensionality written another way than the solution; each must earn full marks."""

RIGHT = {
    "lstsq_gelsd_pinv_batched_rank": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W, b, y):\n"
                "    return torch.linalg.lstsq(W, (y - b).T, driver='gelsd').solution.T\n"),
            "relu-solution": (
                "def relu_layer_inverse(W, b, y):\n"
                "    act = y > 0\n"
                "    Wa = W[act]\n"
                "    n = W.shape[1]\n"
                "    if Wa.shape[0] < n or int(torch.linalg.matrix_rank(Wa)) < n:\n"
                "        raise ValueError(f'{int(act.sum())} active units do not have rank {n}')\n"
                "    return torch.linalg.pinv(Wa) @ (y[act] - b[act])\n"),
            "rate-solution": (
                "def recoverable_fraction(W, b, X):\n"
                "    active = (X @ W.T + b) > 0\n"
                "    masked = W[None] * active[..., None].to(W.dtype)\n"
                "    ranks = torch.linalg.matrix_rank(masked)\n"
                "    return float((ranks == W.shape[1]).double().mean())\n"),
        },
    },
    "explicit_svd_loop_rows_svdvals": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W, b, y):\n"
                "    U, S, Vh = torch.linalg.svd(W, full_matrices=False)\n"
                "    keep = S > S.max() * max(W.shape) * torch.finfo(W.dtype).eps\n"
                "    U, S, Vh = U[:, keep], S[keep], Vh[keep]\n"
                "    return ((y - b) @ U / S) @ Vh\n"),
            "relu-solution": (
                "def relu_layer_inverse(W, b, y):\n"
                "    rows, rhs = [], []\n"
                "    for i in range(W.shape[0]):\n"
                "        if y[i] > 0:\n"
                "            rows.append(W[i])\n"
                "            rhs.append(y[i] - b[i])\n"
                "    n = W.shape[1]\n"
                "    if len(rows) < n:\n"
                "        raise ValueError(f'{len(rows)} active units, {n} needed')\n"
                "    A = torch.stack(rows)\n"
                "    r = int(torch.linalg.matrix_rank(A))\n"
                "    if r < n:\n"
                "        raise ValueError(f'{len(rows)} active units of rank {r} < {n}')\n"
                "    return torch.linalg.lstsq(A, torch.stack(rhs)[:, None], driver='gelsd').solution[:, 0]\n"),
            "rate-solution": (
                "def recoverable_fraction(W, b, X):\n"
                "    n = W.shape[1]\n"
                "    good = 0\n"
                "    for x in X:\n"
                "        Wa = W[(W @ x + b) > 0]\n"
                "        if Wa.shape[0] == 0:\n"
                "            continue\n"
                "        s = torch.linalg.svdvals(Wa)\n"
                "        tol = max(Wa.shape) * torch.finfo(W.dtype).eps * s[0]\n"
                "        good += int((s > tol).sum()) == n\n"
                "    return good / len(X)\n"),
        },
    },
    "normal_equations_qr_python_counts": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W, b, y):\n"
                "    r = (y - b).T\n"
                "    if W.shape[0] <= W.shape[1]:\n"
                "        return (W.T @ torch.linalg.solve(W @ W.T, r)).T\n"
                "    return torch.linalg.solve(W.T @ W, W.T @ r).T\n"),
            "relu-solution": (
                "def relu_layer_inverse(W, b, y):\n"
                "    idx = torch.nonzero(y > 0).flatten()\n"
                "    n = W.shape[1]\n"
                "    A = W.index_select(0, idx)\n"
                "    if idx.numel() < n or torch.linalg.matrix_rank(A) < n:\n"
                "        raise ValueError(f'only {idx.numel()} active units (rank < {n}): x is not determined')\n"
                "    Q, R = torch.linalg.qr(A)\n"
                "    return torch.linalg.solve_triangular(R, Q.T @ (y[idx] - b[idx])[:, None], upper=True)[:, 0]\n"),
            "rate-solution": (
                "def recoverable_fraction(W, b, X):\n"
                "    pre = X @ W.T + b\n"
                "    flags = [bool(row.sum() > 0) and int(torch.linalg.matrix_rank(W[row])) == W.shape[1]\n"
                "             for row in (pre > 0)]\n"
                "    return sum(flags) / float(len(flags))\n"),
        },
    },
    "lstsq_default_driver_normal_equations_loop_trials_scipy_binom": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W, b, y):\n"
                "    # gelsy (the CPU default) returns the minimum-norm solution when W is wide\n"
                "    return torch.linalg.lstsq(W, (y - b).T).solution.T\n"),
            "relu-solution": (
                "def relu_layer_inverse(W, b, y):\n"
                "    mask = y > 0\n"
                "    A, r = W[mask], (y - b)[mask]\n"
                "    n = W.shape[1]\n"
                "    rank = int(torch.linalg.matrix_rank(A)) if A.shape[0] else 0\n"
                "    if rank != n:\n"
                "        raise ValueError(f'{A.shape[0]} active units span rank {rank}; {n} are needed')\n"
                "    return torch.linalg.solve(A.T @ A, A.T @ r)  # the normal equations\n"),
            "width-solution": (
                "import scipy.stats\n\n"
                "def predicted_recoverable_fraction(m, n):\n"
                "    return float(scipy.stats.binom.sf(n - 1, m, 0.5))\n\n\n"
                "def measured_recoverable_fraction(m, n, trials, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
                "    X = torch.randn(trials, n, dtype=torch.float64)\n"
                "    zero = torch.zeros(m, dtype=torch.float64)\n"
                "    hits = sum(recoverable_fraction(W[t], zero, X[t:t + 1]) for t in range(trials))\n"
                "    return hits / trials\n\n\n"
                "SMALLEST_M_99 = min(m for m in range(8, 100) if predicted_recoverable_fraction(m, 8) >= 0.99)\n"),
        },
    },
    "exact_fractions_and_active_unit_counts": {
        "replace": {
            "rate-solution": (
                "def recoverable_fraction(W, b, X):\n"
                "    act = (X @ W.T + b) > 0\n"
                "    n = W.shape[1]\n"
                "    good = 0\n"
                "    for row in act:\n"
                "        s = torch.linalg.svdvals(W[row]) if row.any() else torch.zeros(0, dtype=W.dtype)\n"
                "        good += int(s.numel() == n and s[-1] > s[0] * max(W.shape) * torch.finfo(W.dtype).eps)\n"
                "    return good / act.shape[0]\n"),
            "width-solution": (
                "from fractions import Fraction\n\n"
                "def predicted_recoverable_fraction(m, n):\n"
                "    return float(sum(Fraction(math.comb(m, j), 2 ** m) for j in range(n, m + 1)))\n\n\n"
                "def measured_recoverable_fraction(m, n, trials, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
                "    X = torch.randn(trials, n, dtype=torch.float64)\n"
                "    # any n rows of a Gaussian W are independent: counting active units is the rank test\n"
                "    active = torch.einsum('tmn,tn->tm', W, X) > 0\n"
                "    return (active.sum(dim=1) >= n).sum().item() / trials\n\n\n"
                "SMALLEST_M_99 = 27\n"),
        },
    },
}
