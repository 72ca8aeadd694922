"""Correct answers to ex02_nonlinearity written another way than the solution; each must earn full marks."""

RIGHT = {
    "masks_log1p_difference_nonzero_inverse_matrices": {
        "replace": {
            "elu-solution": (
                "def elu_inverse(y, alpha=1.0):\n"
                "    bad = y <= -alpha\n"
                "    if bad.any():\n"
                "        raise ValueError(f'{int(bad.sum())} entries are not above -alpha = {-alpha}: no preimage')\n"
                "    x = y.clone()\n"
                "    neg = y <= 0\n"
                "    x[neg] = torch.log1p(y[neg] / alpha)\n"
                "    return x\n"),
            "tanh-solution": (
                "def tanh_inverse_safe(y):\n"
                "    bad = ~torch.isfinite(y) | (y.abs() >= 1)\n"
                "    if bad.any():\n"
                "        raise ValueError(f'{int(bad.sum())} entries are not in (-1, 1)')\n"
                "    return 0.5 * (torch.log1p(y) - torch.log1p(-y))\n"),
            "breakdown-solution": (
                "def tanh_breakdown_x(dtype):\n"
                "    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n"
                "    idx = torch.nonzero(torch.tanh(xs.to(dtype)) == 1)[0, 0]\n"
                "    return xs[idx].item()\n"),
            "mlp-solution": (
                "def invert_leaky_mlp(weights, biases, slope, y):\n"
                "    h = y\n"
                "    for k in reversed(range(len(weights))):\n"
                "        h = (h - biases[k]) @ torch.linalg.inv(weights[k]).T\n"
                "        if k > 0:\n"
                "            h = torch.where(h < 0, h / slope, h)\n"
                "    return h\n"),
        },
    },
    "relu_split_atanh_python_loop_right_solve": {
        "replace": {
            "elu-solution": (
                "def elu_inverse(y, alpha=1.0):\n"
                "    if (y <= -alpha).any():\n"
                "        raise ValueError('outside the range of ELU')\n"
                "    return torch.relu(y) + torch.log1p(torch.clamp(y, max=0) / alpha)\n"),
            "tanh-solution": (
                "def tanh_inverse_safe(y):\n"
                "    inside = (y > -1) & (y < 1)\n"
                "    if not inside.all():\n"
                "        raise ValueError(f'{int((~inside).sum())} invalid entries')\n"
                "    return torch.atanh(y)\n"),
            "breakdown-solution": (
                "def tanh_breakdown_x(dtype):\n"
                "    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n"
                "    t = torch.tanh(xs.to(dtype))\n"
                "    for i in range(len(xs)):\n"
                "        if t[i] == 1:\n"
                "            return float(xs[i])\n"
                "    raise RuntimeError('tanh never saturates on the grid')\n"),
            "mlp-solution": (
                "def invert_leaky_mlp(weights, biases, slope, y):\n"
                "    h = y\n"
                "    layers = list(zip(weights, biases))\n"
                "    for i, (W, b) in enumerate(reversed(layers)):\n"
                "        if i > 0:\n"
                "            h = torch.nn.functional.leaky_relu(h, 1 / slope)\n"
                "        h = torch.linalg.solve(W.T, h - b, left=False)\n"
                "    return h\n"),
        },
    },
    "scalar_loop_atanh_identity_argmax": {
        "replace": {
            "elu-solution": (
                "def elu_inverse(y, alpha=1.0):\n"
                "    vals = y.flatten().tolist()\n"
                "    if any(v <= -alpha for v in vals):\n"
                "        raise ValueError('some entries are <= -alpha')\n"
                "    out = [v if v > 0 else math.log1p(v / alpha) for v in vals]\n"
                "    return torch.tensor(out, dtype=y.dtype).reshape(y.shape)\n"),
            "tanh-solution": (
                "def tanh_inverse_safe(y):\n"
                "    n_bad = int(y.numel() - ((y > -1) & (y < 1)).sum())\n"
                "    if n_bad:\n"
                "        raise ValueError(f'{n_bad} entries outside (-1, 1)')\n"
                "    return 0.5 * torch.log1p(2 * y / (1 - y))\n"),
            "breakdown-solution": (
                "def tanh_breakdown_x(dtype):\n"
                "    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n"
                "    hit = (torch.tanh(xs.to(dtype)) == 1).to(torch.int8)\n"
                "    return float(xs[int(torch.argmax(hit))])\n"),
            "mlp-solution": (
                "def invert_leaky_mlp(weights, biases, slope, y):\n"
                "    h = y.clone()\n"
                "    for k in range(len(weights) - 1, -1, -1):\n"
                "        h = torch.linalg.lstsq(weights[k], (h - biases[k]).T).solution.T\n"
                "        if k:\n"
                "            h = h * torch.where(h >= 0, 1.0, 1.0 / slope)\n"
                "    return h\n"),
        },
    },
}

# Part E (the experiment) written three other ways: the error evaluated in float32 for float32 inputs (accurate to
# 1e-7, inside the stated 1e-6), a loop over the flattened entries, and the interpretation found by a Python search.
RIGHT.update({
    "roundtrip_error_in_the_input_dtype_when_float32": {
        "replace": {"roundtrip-solution": (
            "def tanh_roundtrip_error(xs, dtype):\n"
            "    xd = xs.to(dtype)\n"
            "    back = torch.atanh(torch.tanh(xd))\n"
            "    work = torch.float32 if dtype == torch.float32 else torch.float64\n"
            "    return ((back.to(work) - xd.to(work)).abs() / xd.to(work).abs()).double()\n"
            "\n"
            "grid = torch.arange(0.01, 10, 0.01, dtype=torch.float64)\n"
            "err = tanh_roundtrip_error(grid, torch.float32)\n"
            "X_THREE_DIGITS_FLOAT32 = grid[int(torch.nonzero(err > 1e-3)[0, 0])].item()\n"
            "DECADES_PER_UNIT_X = math.log10(math.e ** 2)\n")},
    },
    "roundtrip_loop_over_entries": {
        "replace": {"roundtrip-solution": (
            "def tanh_roundtrip_error(xs, dtype):\n"
            "    out = torch.empty(xs.shape, dtype=torch.float64)\n"
            "    flat_in, flat_out = xs.reshape(-1), out.view(-1)\n"
            "    for i in range(flat_in.numel()):\n"
            "        xd = flat_in[i].to(dtype)\n"
            "        back = torch.atanh(torch.tanh(xd))\n"
            "        flat_out[i] = abs(float(back) - float(xd)) / abs(float(xd))\n"
            "    return out\n"
            "\n"
            "xs = torch.arange(0.01, 10, 0.01, dtype=torch.float64)\n"
            "errs = tanh_roundtrip_error(xs, torch.float32)\n"
            "X_THREE_DIGITS_FLOAT32 = float(xs[errs > 1e-3].min())\n"
            "DECADES_PER_UNIT_X = 0.87\n")},
    },
    "roundtrip_python_search": {
        "replace": {"roundtrip-solution": (
            "def tanh_roundtrip_error(xs, dtype):\n"
            "    xd = xs.to(dtype)\n"
            "    diff = torch.atanh(torch.tanh(xd)).to(torch.float64) - xd.to(torch.float64)\n"
            "    return diff.abs().div(xd.to(torch.float64).abs())\n"
            "\n"
            "grid = torch.arange(0.01, 10, 0.01, dtype=torch.float64)\n"
            "e = tanh_roundtrip_error(grid, torch.float32).tolist()\n"
            "X_THREE_DIGITS_FLOAT32 = next(float(grid[i]) for i in range(len(e)) if e[i] > 1e-3)\n"
            "# measured: from x = 5 to x = 8 the error grows by about 10**2.6\n"
            "DECADES_PER_UNIT_X = 2 * math.log10(math.e)\n")},
    },
})

# Issue 15, second blind attack (written from the release only; all earned full marks before and after the fix).
RIGHT.update({
    "float64_inside_finite_check_bisection_lstsq_argmax": {
        "replace": {
            "elu-solution": (
                "def elu_inverse(y, alpha=1.0):\n"
                "    y64 = y.to(torch.float64)\n"
                "    if bool((y64 <= -alpha).any()):\n"
                "        raise ValueError('y <= -alpha has no preimage under ELU')\n"
                "    x = torch.where(y64 > 0, y64, torch.log1p(torch.clamp(y64, max=0.0) / alpha))\n"
                "    return x.to(y.dtype)\n"),
            "tanh-solution": (
                "def tanh_inverse_safe(y):\n"
                "    x = torch.atanh(y)\n"
                "    bad = ~torch.isfinite(x)\n"
                "    if bool(bad.any()):\n"
                "        raise ValueError(f'{int(bad.sum())} entries of y are not in (-1, 1)')\n"
                "    return x\n"),
            "breakdown-solution": (
                "def tanh_breakdown_x(dtype):\n"
                "    xs = torch.arange(0, 30, 0.01, dtype=torch.float64)\n"
                "    t = torch.tanh(xs.to(dtype))\n"
                "    lo, hi = 0, len(xs) - 1\n"
                "    while hi - lo > 1:\n"
                "        mid = (lo + hi) // 2\n"
                "        if t[mid] == 1:\n"
                "            hi = mid\n"
                "        else:\n"
                "            lo = mid\n"
                "    return float(xs[hi])\n"),
            "mlp-solution": (
                "def invert_leaky_mlp(weights, biases, slope, y):\n"
                "    h = y.clone()\n"
                "    for k in range(len(weights) - 1, -1, -1):\n"
                "        h = torch.linalg.lstsq(weights[k].to(y.dtype), (h - biases[k].to(y.dtype)).T).solution.T\n"
                "        if k > 0:\n"
                "            h = h.clone()\n"
                "            neg = h < 0\n"
                "            h[neg] = h[neg] / slope\n"
                "    return h\n"),
            "roundtrip-solution": (
                "def tanh_roundtrip_error(xs, dtype):\n"
                "    xd = xs.to(dtype)\n"
                "    back = xd.tanh().atanh()\n"
                "    return torch.div(torch.sub(back.double(), xd.double()).abs(), xd.double().abs())\n"
                "\n"
                "_grid = torch.arange(0.01, 10, 0.01, dtype=torch.float64)\n"
                "_bad = tanh_roundtrip_error(_grid, torch.float32) > 1e-3\n"
                "X_THREE_DIGITS_FLOAT32 = _grid[_bad.long().argmax()].item()\n"
                "DECADES_PER_UNIT_X = math.log10(math.e ** 2)\n"),
        },
    },
    "python_loop_elu_index_over_100_row_solves_leaky_relu": {
        "replace": {
            "elu-solution": (
                "def elu_inverse(y, alpha=1.0):\n"
                "    flat = y.detach().reshape(-1).tolist()\n"
                "    n_bad = sum(1 for v in flat if v <= -alpha)\n"
                "    if n_bad:\n"
                "        raise ValueError(f'{n_bad} entries are <= -alpha = {-alpha}: outside the range of ELU')\n"
                "    out = [v if v > 0 else math.log1p(v / alpha) for v in flat]\n"
                "    return torch.tensor(out, dtype=y.dtype).reshape(y.shape)\n"),
            "breakdown-solution": (
                "def tanh_breakdown_x(dtype):\n"
                "    t = torch.tanh(torch.arange(0, 30, 0.01, dtype=torch.float64).to(dtype))\n"
                "    i = int(torch.nonzero(t == 1)[0].item())\n"
                "    return i / 100  # the double nearest i/100: at most 1 ulp from arange's value\n"),
            "mlp-solution": (
                "def invert_leaky_mlp(weights, biases, slope, y):\n"
                "    rows = []\n"
                "    for r in y:\n"
                "        h = r\n"
                "        for k in range(len(weights) - 1, -1, -1):\n"
                "            h = torch.linalg.solve(weights[k].to(y.dtype), h - biases[k].to(y.dtype))\n"
                "            if k > 0:\n"
                "                h = torch.nn.functional.leaky_relu(h, 1.0 / slope)\n"
                "        rows.append(h)\n"
                "    return torch.stack(rows).reshape(y.shape)\n"),
        },
    },
})
