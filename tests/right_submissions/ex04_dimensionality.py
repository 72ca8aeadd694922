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
    # the normal equations that stood here (W^T (W W^T)^-1, (W^T W)^-1 W^T) are wrong for a rank-deficient or badly
    # conditioned W: tests/wrong_submissions/ex04_dimensionality.py, pinv_normal_equations_both_shapes (issue 15)
    "svd_of_transpose_qr_python_counts": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W, b, y):\n"
                "    U, S, Vh = torch.linalg.svd(W.T, full_matrices=False)  # W^T = U S Vh, so W^+ = U S^+ Vh\n"
                "    cut = S.max() * max(W.shape) * torch.finfo(W.dtype).eps if S.numel() else 0.0\n"
                "    inv = torch.where(S > cut, 1.0 / S, torch.zeros_like(S))\n"
                "    return ((y - b) @ Vh.T) * inv @ U.T\n"),
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
    "lstsq_default_driver_svd_solve_loop_trials_scipy_binom": {
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
                "    # the SVD of the active rows (the normal equations that stood here square their condition number)\n"
                "    U, S, Vh = torch.linalg.svd(A, full_matrices=False)\n"
                "    return Vh.T @ ((U.T @ r) / S)\n"),
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
    # issue 15 outsider probe (written blind): each part another way
    "own_svd_rows_pinv_index_list_masked_rank_complement_generator": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
                "    \"\"\"Return the x of shape (n, d_in) solving x @ W.T + b = y: minimum-norm if W is wide, least-squares if tall.\"\"\"\n"
                "    Wy = W.to(y.dtype)\n"
                "    U, S, Vh = torch.linalg.svd(Wy, full_matrices=False)\n"
                "    cut = S.max() * max(Wy.shape) * torch.finfo(y.dtype).eps if S.numel() else 0.0\n"
                "    inv_s = torch.where(S > cut, 1.0 / S, torch.zeros_like(S))\n"
                "    P = Vh.mT @ torch.diag(inv_s) @ U.mT             # (d_in, d_out)\n"
                "    rows = [P @ (y[i] - b) for i in range(y.shape[0])]\n"
                "    return torch.stack(rows) if rows else y.new_zeros(0, W.shape[1])\n"),
            "relu-solution": (
                "def relu_layer_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
                "    \"\"\"Return x with relu(W x + b) == y, using only the active units (y > 0).\"\"\"\n"
                "    n = W.shape[1]\n"
                "    idx = [i for i in range(y.shape[0]) if y[i] > 0]\n"
                "    Wa = W[idx]\n"
                "    rank = int(torch.linalg.matrix_rank(Wa)) if idx else 0\n"
                "    if rank < n:\n"
                "        raise ValueError(f\"{len(idx)} active units of rank {rank}: {n} independent active units are needed\")\n"
                "    return torch.linalg.pinv(Wa) @ (y[idx] - b[idx])\n"),
            "rate-solution": (
                "def recoverable_fraction(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor) -> float:\n"
                "    \"\"\"Fraction of rows x of X whose active units (W x + b > 0) have rows of W of rank n.\"\"\"\n"
                "    active = (torch.relu(X @ W.T + b) > 0).to(W.dtype)         # (N, m)\n"
                "    masked = W[None, :, :] * active[:, :, None]                 # (N, m, n)\n"
                "    ranks = torch.linalg.matrix_rank(masked)\n"
                "    return float((ranks == W.shape[1]).to(torch.float64).mean())\n"),
            "width-solution": (
                "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
                "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
                "    below = sum(math.comb(m, j) for j in range(0, min(n, m + 1)))\n"
                "    return 1.0 - below / 2 ** m\n"
                "\n"
                "\n"
                "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
                "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
                "    g = torch.Generator().manual_seed(seed)\n"
                "    W = torch.randn(trials, m, n, dtype=torch.float64, generator=g)\n"
                "    X = torch.randn(trials, n, dtype=torch.float64, generator=g)\n"
                "    active = (W @ X[:, :, None])[..., 0] > 0                    # (trials, m)\n"
                "    ranks = torch.linalg.matrix_rank(W * active[..., None].to(W.dtype))\n"
                "    return float((ranks == n).double().mean())\n"
                "\n"
                "\n"
                "m = 8\n"
                "while predicted_recoverable_fraction(m, 8) < 0.99:\n"
                "    m += 1\n"
                "SMALLEST_M_99 = m\n"),
        },
    },
    "pinv_of_transpose_float64_qr_numpy_loop_fractions": {
        "replace": {
            "pinv-solution": (
                "def pinv_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
                "    \"\"\"Return the x of shape (n, d_in) solving x @ W.T + b = y: minimum-norm if W is wide, least-squares if tall.\"\"\"\n"
                "    d = torch.float64\n"
                "    x = (y.to(d) - b.to(d)) @ torch.linalg.pinv(W.to(d).T)\n"
                "    return x.to(y.dtype)\n"),
            "relu-solution": (
                "def relu_layer_inverse(W: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:\n"
                "    \"\"\"Return x with relu(W x + b) == y, using only the active units (y > 0).\"\"\"\n"
                "    n = W.shape[1]\n"
                "    mask = y > 0\n"
                "    Wa, ra = W[mask], (y - b)[mask]\n"
                "    if int(mask.sum()) < n or int(torch.linalg.matrix_rank(Wa)) < n:\n"
                "        raise ValueError(f\"only {int(mask.sum())} active units (rank \"\n"
                "                         f\"{int(torch.linalg.matrix_rank(Wa)) if int(mask.sum()) else 0}); need rank {n}\")\n"
                "    Q, R = torch.linalg.qr(Wa)                        # reduced: Q (k, n), R (n, n)\n"
                "    return torch.linalg.solve_triangular(R, (Q.T @ ra)[:, None], upper=True)[:, 0]\n"),
            "rate-solution": (
                "def recoverable_fraction(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor) -> float:\n"
                "    \"\"\"Fraction of rows x of X whose active units (W x + b > 0) have rows of W of rank n.\"\"\"\n"
                "    import numpy as np\n"
                "    Wn, bn, Xn = W.numpy(), b.numpy(), X.numpy()\n"
                "    good = 0\n"
                "    for x in Xn:\n"
                "        rows = Wn[Wn @ x + bn > 0]\n"
                "        if rows.shape[0] > 0 and np.linalg.matrix_rank(rows) == Wn.shape[1]:\n"
                "            good += 1\n"
                "    return good / len(Xn)\n"),
            "width-solution": (
                "from fractions import Fraction\n"
                "\n"
                "\n"
                "def predicted_recoverable_fraction(m: int, n: int) -> float:\n"
                "    \"\"\"P(at least n of m independent fair coins are heads): the recoverable fraction of a random ReLU layer.\"\"\"\n"
                "    p = Fraction(0)\n"
                "    for j in range(n, m + 1):\n"
                "        p += Fraction(math.comb(m, j), 2 ** m)\n"
                "    return float(p)\n"
                "\n"
                "\n"
                "def measured_recoverable_fraction(m: int, n: int, trials: int, seed: int) -> float:\n"
                "    \"\"\"Fraction of `trials` random (W, x) pairs, b = 0, whose active rows have rank n.\"\"\"\n"
                "    torch.manual_seed(seed)\n"
                "    W = torch.randn(trials, m, n, dtype=torch.float64)\n"
                "    X = torch.randn(trials, n, dtype=torch.float64)\n"
                "    ok = 0\n"
                "    for t in range(trials):\n"
                "        if int(torch.linalg.matrix_rank(W[t][W[t] @ X[t] > 0])) == n:\n"
                "            ok += 1\n"
                "    return ok / trials\n"
                "\n"
                "\n"
                "SMALLEST_M_99 = 27\n"),
        },
    },
}
