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
    "loops_leaky_relu_normal_equations_inverse_svd": {
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
                "    return torch.linalg.solve(A.T @ A, A.T)\n"),
            "worst-solution": (
                "def worst_perturbation(A):\n"
                "    _, _, Vh = torch.linalg.svd(torch.linalg.inv(A))\n"
                "    return Vh[0]\n"),
        },
    },
}

# Part F (the experiment) written three other ways: through the SVD, with loops and the statistics module,
# through the explicit inverse with the interpretation predicted from theory (within the stated tolerance).
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
            "DIGITS_SAVED_400 = math.log10(math.sqrt(400) / 0.6745)  # median |N(0,1)| / sqrt(d): 1.47\n")},
    },
})
