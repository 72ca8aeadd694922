"""Correct answers to ex10_capstone written another way than the solution; each must earn full marks."""

RIGHT = {
    "pinv_svdvals_fsum_while": {
        "replace": {
            "invert-solution": (
                "def invert_relu_rows(W, Y):\n"
                "    n = W.shape[1]\n"
                "    rows, flags = [], []\n"
                "    for y in Y:\n"
                "        Wa = W[y > 0]\n"
                "        s = torch.linalg.svdvals(Wa) if Wa.shape[0] else torch.zeros(0, dtype=W.dtype)\n"
                "        ok = s.numel() == n and bool((s > max(Wa.shape) * torch.finfo(W.dtype).eps * s[0]).all())\n"
                "        flags.append(ok)\n"
                "        rows.append(torch.linalg.pinv(Wa) @ y[y > 0] if ok else torch.full((n,), float('nan'), dtype=Y.dtype))\n"
                "    return torch.stack(rows), torch.tensor(flags, dtype=torch.bool)\n"),
            "measure-solution": (
                "def measured_success_rate(n, m, N, threshold, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    Ws = torch.randn(N, m, n, dtype=torch.float64)\n"
                "    X = torch.randn(N, n, dtype=torch.float64)\n"
                "    good = 0\n"
                "    for W, x in zip(Ws, X):\n"
                "        xh, d = invert_relu_rows(W, relu_layer(W, x[None]))\n"
                "        if d[0] and torch.linalg.norm(xh[0] - x) <= threshold * torch.linalg.norm(x):\n"
                "            good += 1\n"
                "    return good / N\n"),
            "predict-solution": (
                "def predicted_success_rate(n, m):\n"
                "    return math.fsum(math.comb(m, k) / 2 ** m for k in range(n, m + 1))  # exact int / int\n\n\n"
                "M_FOR_70 = 10\n"
                "while predicted_success_rate(10, M_FOR_70) < 0.7:\n"
                "    M_FOR_70 += 1\n"),
        },
    },
    "lstsq_gelsd_complement_isfinite": {
        "replace": {
            "invert-solution": (
                "def invert_relu_rows(W, Y):\n"
                "    N, n = Y.shape[0], W.shape[1]\n"
                "    X_hat = Y.new_full((N, n), float('nan'))\n"
                "    det = torch.zeros(N, dtype=torch.bool)\n"
                "    for i in range(N):\n"
                "        idx = torch.nonzero(Y[i] > 0).flatten()\n"
                "        if idx.numel() < n:\n"
                "            continue\n"
                "        A = W.index_select(0, idx)\n"
                "        if torch.linalg.matrix_rank(A) == n:\n"
                "            X_hat[i] = torch.linalg.lstsq(A, Y[i, idx][:, None], driver='gelsd').solution[:, 0]\n"
                "            det[i] = True\n"
                "    return X_hat, det\n"),
            "measure-solution": (
                "def measured_success_rate(n, m, N, threshold, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    Ws = torch.randn(N, m, n, dtype=torch.float64)\n"
                "    X = torch.randn(N, n, dtype=torch.float64)\n"
                "    outs = [invert_relu_rows(Ws[i], relu_layer(Ws[i], X[i:i + 1]))[0][0] for i in range(N)]\n"
                "    err = (torch.stack(outs) - X).norm(dim=1) / X.norm(dim=1)\n"
                "    ok = torch.isfinite(err) & (err <= threshold)\n"
                "    return ok.sum().item() / N\n"),
            "predict-solution": (
                "def predicted_success_rate(n, m):\n"
                "    return 1.0 - sum(math.comb(m, k) for k in range(0, n)) / 2 ** m\n\n\n"
                "M_FOR_70 = [m for m in range(10, 100) if predicted_success_rate(10, m) >= 0.7][0]\n"),
        },
    },
    "qr_float32_fraction_scipy_binom": {
        "replace": {
            "invert-solution": (
                "def invert_relu_rows(W, Y):\n"
                "    n = W.shape[1]\n"
                "    X_hat = torch.full((len(Y), n), float('nan'), dtype=Y.dtype)\n"
                "    det = torch.zeros(len(Y), dtype=torch.bool)\n"
                "    for i, y in enumerate(Y):\n"
                "        mask = y > 0\n"
                "        A = W[mask]\n"
                "        if A.shape[0] >= n and torch.linalg.matrix_rank(A).item() == n:\n"
                "            Q, R = torch.linalg.qr(A)\n"
                "            X_hat[i] = torch.linalg.solve_triangular(R, (Q.T @ y[mask])[:, None], upper=True)[:, 0]\n"
                "            det[i] = True\n"
                "    return X_hat, det\n"),
            "measure-solution": (
                "def measured_success_rate(n, m, N, threshold, seed):\n"
                "    torch.manual_seed(seed)\n"
                "    Ws = torch.randn(N, m, n, dtype=torch.float64)\n"
                "    X = torch.randn(N, n, dtype=torch.float64)\n"
                "    hits = torch.zeros(N)\n"
                "    for i in range(N):\n"
                "        xh, d = invert_relu_rows(Ws[i], relu_layer(Ws[i], X[i:i + 1]))\n"
                "        hits[i] = float(bool(d[0]) and ((xh[0] - X[i]).norm() / X[i].norm()).item() <= threshold)\n"
                "    return hits.mean().item()\n"),
            "predict-solution": (
                "from scipy.stats import binom\n\n"
                "def predicted_success_rate(n, m):\n"
                "    return float(binom.sf(n - 1, m, 0.5))\n\n\n"
                "M_FOR_70 = int(next(m for m in range(10, 100) if binom.sf(9, m, 0.5) >= 0.7))\n"),
        },
    },
}

# Issue 15, outside attack (phase 1 blind, /tmp/attack/ex10_capstone_right.py): correct, written another way.
RIGHT.update({
    'outsider_masked_rows_vector_norms_pascal': {
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    # zeroing the inactive rows of W gives the same least-squares problem and the same rank\n'
                '    n = W.shape[1]\n'
                '    X_hat = torch.full((Y.shape[0], n), math.nan, dtype=Y.dtype)\n'
                '    determined = torch.zeros(Y.shape[0], dtype=torch.bool)\n'
                '    for i, y in enumerate(Y):\n'
                '        mask = (y > 0).to(W.dtype)\n'
                '        Wm = W * mask[:, None]\n'
                '        if int(torch.linalg.matrix_rank(Wm)) == n:\n'
                '            determined[i] = True\n'
                '            X_hat[i] = torch.linalg.lstsq(Wm, (y * mask)[:, None]).solution[:, 0]\n'
                '    return X_hat, determined\n'
            ),  # inv_masked_rows_lstsq
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    X_hat = torch.empty_like(X)\n'
                '    det = torch.empty(N, dtype=torch.bool)\n'
                '    for i in range(N):\n'
                '        xh, d = invert_relu_rows(Ws[i], relu_layer(Ws[i], X[i:i+1]))\n'
                '        X_hat[i], det[i] = xh[0], d[0]\n'
                '    rel = torch.linalg.vector_norm(X_hat - X, dim=1) / torch.linalg.vector_norm(X, dim=1)\n'
                '    success = det & (rel <= threshold)\n'
                '    return success.sum().item() / N\n'
            ),  # meas_vectorised_after_loop_inversion
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                "    # Pascal's triangle: row[k] = number of ways k of the units so far are active (exact integers)\n"
                '    row = [1]\n'
                '    for _ in range(m):\n'
                '        row = [a + b for a, b in zip([0] + row, row + [0])]\n'
                '    return sum(row[n:]) / 2**m\n'
                '\n'
                'M_FOR_70 = 10\n'
                'while predicted_success_rate(10, M_FOR_70) < 0.7:\n'
                '    M_FOR_70 += 1\n'
            ),  # pred_pascal_dp
        },
    },
    'outsider_pinv_list_batched_forward_factorials': {
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    n = W.shape[1]\n'
                '    rows, det = [], []\n'
                '    for y in Y:\n'
                '        active = torch.where(y > 0)[0]\n'
                '        Wa = W[active]\n'
                '        ok = Wa.shape[0] >= n and torch.linalg.matrix_rank(Wa).item() == n\n'
                '        det.append(ok)\n'
                '        rows.append(torch.linalg.pinv(Wa) @ y[active] if ok else torch.full((n,), float("nan"), dtype=Y.dtype))\n'
                '    return torch.stack(rows).to(Y.dtype), torch.tensor(det, dtype=torch.bool)\n'
            ),  # inv_pinv_list_build
            'measure-solution': (
                'def measured_success_rate(n, m, N, threshold, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    Ws = torch.randn(N, m, n, dtype=torch.float64)\n'
                '    X = torch.randn(N, n, dtype=torch.float64)\n'
                '    Y = torch.relu(torch.einsum("imn,in->im", Ws, X))  # all trials\' layer outputs at once\n'
                '    hits = 0\n'
                '    for i in range(N):\n'
                '        xh, d = invert_relu_rows(Ws[i], Y[i:i+1])\n'
                '        if d[0] and torch.linalg.norm(xh[0] - X[i]) <= threshold * torch.linalg.norm(X[i]):\n'
                '            hits += 1\n'
                '    return float(hits / N)\n'
            ),  # meas_batched_einsum_forward
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                '    count = 0\n'
                '    for k in range(m, n - 1, -1):\n'
                '        count += math.factorial(m) // (math.factorial(k) * math.factorial(m - k))\n'
                '    return count / (1 << m)\n'
                '\n'
                'M_FOR_70 = 10\n'
                'while predicted_success_rate(10, M_FOR_70) < 0.7:\n'
                '    M_FOR_70 += 1\n'
            ),  # pred_factorials_reverse
        },
    },
    'outsider_qr_torch_binomial': {
        "replace": {
            'invert-solution': (
                'def invert_relu_rows(W, Y):\n'
                '    N = Y.shape[0]\n'
                '    n = W.shape[1]\n'
                '    X_hat = Y.new_full((N, n), float("nan"))\n'
                '    det = torch.zeros(N, dtype=torch.bool)\n'
                '    for i in range(N):\n'
                '        a = Y[i] > 0\n'
                '        if int(a.sum()) < n:\n'
                '            continue\n'
                '        Wa = W[a]\n'
                '        if torch.linalg.matrix_rank(Wa) < n:\n'
                '            continue\n'
                '        Q, R = torch.linalg.qr(Wa)\n'
                '        X_hat[i] = torch.linalg.solve_triangular(R, (Q.T @ Y[i, a])[:, None], upper=True)[:, 0]\n'
                '        det[i] = True\n'
                '    return X_hat, det\n'
            ),  # inv_qr
            'predict-solution': (
                'def predicted_success_rate(n, m):\n'
                '    if n > m:\n'
                '        return 0.0\n'
                '    dist = torch.distributions.Binomial(m, probs=torch.tensor(0.5, dtype=torch.float64))\n'
                '    ks = torch.arange(n, m + 1, dtype=torch.float64)\n'
                '    return float(dist.log_prob(ks).exp().sum())\n'
                '\n'
                'M_FOR_70 = 10\n'
                'while predicted_success_rate(10, M_FOR_70) < 0.7:\n'
                '    M_FOR_70 += 1\n'
            ),  # pred_torch_binomial_logprob
        },
    },
})
