"""Correct answers to ex01_functions written another way than the solution; each must earn full marks."""

RIGHT = {
    "lu_masks_sets_qr_eigh": {
        "replace": {
            "affine-solution": (
                "def invert_affine(W, b, y):\n"
                "    LU, piv = torch.linalg.lu_factor(W)\n"
                "    return torch.linalg.lu_solve(LU, piv, (y - b).T).T\n"),
            "leaky-solution": (
                "def leaky_relu_inverse(y, slope):\n"
                "    if not slope > 0:\n"
                "        raise ValueError('the slope must be positive for the leaky ReLU to be invertible')\n"
                "    x = y.clone()\n"
                "    neg = y < 0\n"
                "    x[neg] = y[neg] / slope\n"
                "    return x\n"),
            "preimage-solution": (
                "def preimage_of_square(y):\n"
                "    if y < 0:\n"
                "        return []\n"
                "    r = math.sqrt(y)\n"
                "    return sorted({-r, r})\n"),
            "left-solution": (
                "def left_inverse(A):\n"
                "    if A.dim() != 2:\n"
                "        raise ValueError('A must be 2-D')\n"
                "    m, n = A.shape\n"
                "    if m < n:\n"
                "        raise ValueError('A is wider than tall')\n"
                "    s = torch.linalg.svdvals(A)\n"
                "    if int((s > max(m, n) * torch.finfo(A.dtype).eps * s[0]).sum()) < n:\n"
                "        raise ValueError('A does not have full column rank')\n"
                "    Q, R = torch.linalg.qr(A)\n"
                "    return torch.linalg.solve_triangular(R, Q.T, upper=True)\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    vals, vecs = torch.linalg.eigh(A @ A.T)\n"
                "    return vecs[:, 0]\n"),
        },
    },
    "inverse_where_lstsq_svd_of_transpose": {
        "replace": {
            "affine-solution": (
                "def invert_affine(W, b, y):\n"
                "    return torch.linalg.solve(W.T, y - b, left=False)\n"),
            "leaky-solution": (
                "def leaky_relu_inverse(y, slope):\n"
                "    if slope <= 0:\n"
                "        raise ValueError(f'slope {slope}: not invertible')\n"
                "    return y / torch.where(y < 0, torch.as_tensor(slope, dtype=y.dtype), torch.ones((), dtype=y.dtype))\n"),
            "preimage-solution": (
                "def preimage_of_square(y):\n"
                "    out = []\n"
                "    if y > 0:\n"
                "        out = [-(y ** 0.5), y ** 0.5]\n"
                "    elif y == 0:\n"
                "        out = [0.0]\n"
                "    return out\n"),
            "left-solution": (
                "def left_inverse(A):\n"
                "    if len(A.shape) != 2 or A.shape[0] < A.shape[1]:\n"
                "        raise ValueError('A must be a tall (or square) matrix')\n"
                "    if torch.linalg.matrix_rank(A) != A.shape[1]:\n"
                "        raise ValueError('A is rank deficient')\n"
                "    return torch.linalg.lstsq(A, torch.eye(A.shape[0], dtype=A.dtype), driver='gelsd').solution\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    _, _, Vh = torch.linalg.svd(A.T)\n"
                "    return Vh[-1]\n"),
        },
    },
    "loops_leaky_relu_svd_factors_inverse_svd": {
        "replace": {
            "affine-solution": (
                "def invert_affine(W, b, y):\n"
                "    return torch.stack([torch.linalg.solve(W, row - b) for row in y])\n"),
            "leaky-solution": (
                "def leaky_relu_inverse(y, slope):\n"
                "    if slope <= 0:\n"
                "        raise ValueError('not invertible')\n"
                "    return torch.nn.functional.leaky_relu(y, 1.0 / slope)\n"),
            "preimage-solution": (
                "def preimage_of_square(y):\n"
                "    return sorted({math.sqrt(y), -math.sqrt(y)}) if y >= 0 else []\n"),
            "left-solution": (
                "def left_inverse(A):\n"
                "    if A.ndim != 2:\n"
                "        raise ValueError('not a matrix')\n"
                "    if A.shape[0] < A.shape[1] or torch.linalg.matrix_rank(A) < A.shape[1]:\n"
                "        raise ValueError('no left inverse: wide or rank deficient')\n"
                "    U, S, Vh = torch.linalg.svd(A, full_matrices=False)\n"
                "    return Vh.T @ torch.diag(1 / S) @ U.T  # (not the normal equations: they square kappa)\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    _, _, Vh = torch.linalg.svd(torch.linalg.inv(A))\n"
                "    return Vh[0]\n"),
        },
    },
}

# Part F (the experiment) written three other ways: through the SVD, with loops and the statistics module,
# through the explicit inverse (the interpretation measured, to two decimals as the release asks).
RIGHT.update({
    "amplify_through_the_svd": {
        "replace": {"amplify-solution": (
            "def median_amplification_ratio(A, n, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n"
            "    U, S, Vh = torch.linalg.svd(A)\n"
            "    r = ((D @ U) / S).norm(dim=1) / D.norm(dim=1) * S[-1]\n"
            "    return float(r.sort().values[n // 2])\n"
            "\n"
            "meds = []\n"
            "for d in (4, 16, 100, 400):\n"
            "    meds.append(median_amplification_ratio(torch.diag(torch.tensor([1.0] * (d - 1) + [1e-6], dtype=torch.float64)), 1001, 0))\n"
            "TREND = '1/sqrt(d)' if abs(meds[0] / meds[1] - 2) < 0.5 else 'other'\n"
            "DIGITS_SAVED_400 = float(-torch.log10(torch.tensor(meds[-1])))\n")},
    },
    "amplify_loops_and_statistics": {
        "replace": {"amplify-solution": (
            "import statistics\n"
            "\n"
            "def median_amplification_ratio(A, n, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n"
            "    s_min = float(torch.linalg.svdvals(A).min())\n"
            "    ratios = []\n"
            "    for i in range(n):\n"
            "        dx = torch.linalg.solve(A, D[i])\n"
            "        ratios.append(s_min * float(dx.norm()) / float(D[i].norm()))\n"
            "    return statistics.median(ratios)\n"
            "\n"
            "A400 = torch.eye(400, dtype=torch.float64)\n"
            "A400[-1, -1] = 1e-6\n"
            "TREND = \"1/sqrt(d)\"\n"
            "DIGITS_SAVED_400 = -math.log10(median_amplification_ratio(A400, 1001, 0))\n")},
    },
    "amplify_explicit_inverse_theory": {
        "replace": {"amplify-solution": (
            "def median_amplification_ratio(A, n, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n"
            "    Ainv = torch.linalg.inv(A)\n"
            "    r = (D @ Ainv.T).norm(dim=1) / D.norm(dim=1) / torch.linalg.matrix_norm(Ainv, ord=2)\n"
            "    return float(torch.median(r))\n"
            "\n"
            "TREND = '1/sqrt(d)'\n"
            "A400 = torch.diag(torch.tensor([1.0] * 399 + [1e-6], dtype=torch.float64))\n"
            "DIGITS_SAVED_400 = round(-math.log10(median_amplification_ratio(A400, 1001, 0)), 2)  # 1.44\n")},
    },
})

# Issue 15, outside attack (phase 1 blind, /tmp/attack/ex01_functions_right.py): correct, written another way.
RIGHT.update({
    'outsider_solve_left_functional_pow_svd_oldsvd_loop': {
        "replace": {
            'affine-solution': (
                'def invert_affine(W, b, y):\n'
                '    # x W^T = y - b  is a system with the unknown on the left\n'
                '    return torch.linalg.solve(W.T, y - b, left=False)\n'
            ),  # affine_solve_left_false
            'leaky-solution': (
                'import torch.nn.functional as F\n'
                '\n'
                'def leaky_relu_inverse(y, slope):\n'
                '    if not slope > 0:\n'
                '        raise ValueError(f"slope must be > 0 for the leaky ReLU to be invertible, got {slope}")\n'
                '    # the inverse of a leaky ReLU with slope a is a leaky ReLU with slope 1/a\n'
                '    return F.leaky_relu(y, 1.0 / slope)\n'
            ),  # leaky_functional_reciprocal_slope
            'preimage-solution': (
                'def preimage_of_square(y):\n'
                '    if y < 0:\n'
                '        return []\n'
                '    r = y ** 0.5\n'
                '    return sorted({-r, r})\n'
            ),  # preimage_pow_half
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.dim() != 2:\n'
                '        raise ValueError("A must be 2-D")\n'
                '    m, n = A.shape\n'
                '    if m < n:\n'
                '        raise ValueError("A is wide: no left inverse")\n'
                '    U, S, Vh = torch.linalg.svd(A, full_matrices=False)\n'
                '    if int(torch.linalg.matrix_rank(A)) < n:\n'
                '        raise ValueError("rank-deficient: no left inverse")\n'
                '    return Vh.T @ torch.diag(1.0 / S) @ U.T\n'
            ),  # left_svd_explicit
            'worst-solution': (
                'def worst_perturbation(A):\n'
                '    U, S, V = torch.svd(A)\n'
                '    return U[:, S.argmin()].clone()\n'
            ),  # worst_old_svd_api
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    smin = float(torch.linalg.matrix_norm(A, ord=-2))\n'
                '    ratios = []\n'
                '    for i in range(n):\n'
                '        db = D[i]\n'
                '        dx = torch.linalg.solve(A, db)\n'
                '        ratios.append(smin * float(dx.norm()) / float(db.norm()))\n'
                '    ratios.sort()\n'
                '    return ratios[n // 2]\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),  # amp_loop_sorted_median
        },
    },
    'outsider_lu_rows_scale_factor_lstsq_quantile': {
        "replace": {
            'affine-solution': (
                'def invert_affine(W, b, y):\n'
                '    LU, piv = torch.linalg.lu_factor(W)\n'
                '    out = torch.empty_like(y)\n'
                '    for i in range(y.shape[0]):\n'
                '        out[i] = torch.linalg.lu_solve(LU, piv, (y[i] - b).unsqueeze(1)).squeeze(1)\n'
                '    return out\n'
            ),  # affine_lu_loop_rows
            'leaky-solution': (
                'def leaky_relu_inverse(y, slope):\n'
                '    if slope <= 0:\n'
                '        raise ValueError("not invertible: slope must be positive")\n'
                '    return y * torch.where(y > 0, torch.ones_like(y), torch.full_like(y, 1.0 / slope))\n'
            ),  # leaky_scale_factor
            'preimage-solution': (
                'def preimage_of_square(y):\n'
                '    if y > 0:\n'
                '        r = math.sqrt(y)\n'
                '        return [-r, r]\n'
                '    if y == 0:\n'
                '        return [0.0]\n'
                '    return []\n'
            ),  # preimage_set_comprehension
            'left-solution': (
                'def left_inverse(A):\n'
                '    if len(A.shape) != 2:\n'
                '        raise ValueError("A must be 2-D")\n'
                '    m, n = A.shape\n'
                '    if m < n or torch.linalg.matrix_rank(A).item() != n:\n'
                '        raise ValueError("A has no left inverse: it must be tall (m >= n) with full column rank")\n'
                '    return torch.linalg.lstsq(A, torch.eye(m, dtype=A.dtype)).solution\n'
            ),  # left_lstsq_identity
            'worst-solution': (
                'def worst_perturbation(A):\n'
                '    # A^{-1} = V S^{-1} U^T: its top right singular vector is u_min\n'
                '    U, S, Vh = torch.linalg.svd(torch.linalg.inv(A))\n'
                '    return Vh[0]\n'
            ),  # worst_top_singular_vector_of_inverse
            'amplify-solution': (
                'def median_amplification_ratio(A, n, seed):\n'
                '    torch.manual_seed(seed)\n'
                '    D = torch.randn(n, A.shape[0], dtype=torch.float64)\n'
                '    D = D / D.norm(dim=1, keepdim=True)\n'
                '    Ainv = torch.linalg.inv(A)\n'
                '    amp = (D @ Ainv.T).norm(dim=1) / torch.linalg.matrix_norm(Ainv, ord=2)\n'
                '    return amp.quantile(0.5).item()\n'
                '\n'
                '_ratios = {}\n'
                'for _d in (4, 16, 100, 400):\n'
                '    _A = torch.diag(torch.tensor([1.0] * (_d - 1) + [1e-6], dtype=torch.float64))\n'
                '    _ratios[_d] = median_amplification_ratio(_A, 1001, 0)\n'
                'TREND = "1/sqrt(d)"\n'
                'DIGITS_SAVED_400 = -math.log10(_ratios[400])\n'
            ),  # amp_inverse_norm_unit_rows
        },
    },
    'outsider_explicit_inverse_mask_qr_eigh': {
        "replace": {
            'affine-solution': (
                'def invert_affine(W, b, y):\n'
                '    # the hint prefers solve, but W^{-1} is also correct for an invertible W\n'
                '    return (y - b) @ torch.linalg.inv(W).T\n'
            ),  # affine_explicit_inverse
            'leaky-solution': (
                'def leaky_relu_inverse(y, slope):\n'
                '    if slope <= 0:\n'
                '        raise ValueError("the leaky ReLU is not invertible for slope <= 0")\n'
                '    x = y.clone()\n'
                '    neg = x < 0\n'
                '    x[neg] = x[neg] / slope\n'
                '    return x\n'
            ),  # leaky_mask_clone
            'left-solution': (
                'def left_inverse(A):\n'
                '    if A.ndim != 2:\n'
                '        raise ValueError(f"A must be a matrix (2-D), got {A.ndim}-D")\n'
                '    m, n = A.shape\n'
                '    if m < n:\n'
                '        raise ValueError(f"A is wider than tall ({m} < {n}): no left inverse")\n'
                '    S = torch.linalg.svdvals(A)\n'
                '    tol = max(m, n) * torch.finfo(A.dtype).eps * S[0]\n'
                '    if int((S > tol).sum()) < n:\n'
                '        raise ValueError("A does not have full column rank")\n'
                '    Q, R = torch.linalg.qr(A)\n'
                '    return torch.linalg.solve_triangular(R, Q.T, upper=True)\n'
            ),  # left_qr
            'worst-solution': (
                'def worst_perturbation(A):\n'
                '    # the left singular vectors of A are the eigenvectors of A A^T; eigh sorts ascending\n'
                '    vals, vecs = torch.linalg.eigh(A @ A.T)\n'
                '    return vecs[:, 0]\n'
            ),  # worst_eigh_AAt
        },
    },
    'outsider_lstsq_affine': {
        "replace": {
            'affine-solution': (
                'def invert_affine(W, b, y):\n'
                '    return torch.linalg.lstsq(W, (y - b).T).solution.T.contiguous()\n'
            ),  # affine_lstsq
        },
    },
})
