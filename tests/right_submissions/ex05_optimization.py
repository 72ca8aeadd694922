"""Correct answers to ex05_optimization written another way than the solution; each must earn full marks."""

RIGHT = {
    "sgd_optimizer_lstsq_diff_argmin": {
        "replace": {
            "gd-solution": (
                "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
                "    x = x0.detach().clone().requires_grad_(True)\n"
                "    opt = torch.optim.SGD([x], lr=lr)\n"
                "    for k in range(max_iter):\n"
                "        opt.zero_grad()\n"
                "        r = f(x) - y\n"
                "        if torch.linalg.norm(r).item() <= tol:\n"
                "            return x.detach().clone(), k\n"
                "        (0.5 * r.pow(2).sum()).backward()\n"
                "        opt.step()\n"
                "    return x.detach().clone(), max_iter\n"),
            "gn-solution": (
                "def gauss_newton_step(f, x, y):\n"
                "    x = x.detach()\n"
                "    J = torch.autograd.functional.jacobian(f, x)\n"
                "    r = (f(x) - y).detach()\n"
                "    s = torch.linalg.lstsq(J, -r[:, None]).solution[:, 0]\n"
                "    return x + s\n"),
            "tv-solution": (
                "def total_variation(images):\n"
                "    dv = torch.diff(images, dim=1).abs().sum(dim=(1, 2))\n"
                "    dh = torch.diff(images, dim=2).abs().sum(dim=(1, 2))\n"
                "    return dv + dh\n"),
            "restart-solution": (
                "def best_of_restarts(f, y, solver, starts):\n"
                "    cands = [solver(f, y, x0) for x0 in starts]\n"
                "    res = torch.stack([torch.linalg.norm(f(c) - y) for c in cands])\n"
                "    i = int(torch.argmin(res))\n"
                "    return cands[i], float(res[i])\n"),
        },
    },
    "while_loop_vjp_pinv_loops_min_key": {
        "replace": {
            "gd-solution": (
                "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
                "    x = x0.clone().detach()\n"
                "    k = 0\n"
                "    while True:\n"
                "        fx, g = torch.autograd.functional.vjp(f, x, f(x).detach() - y)\n"
                "        if float(torch.linalg.norm(fx - y)) <= tol or k == max_iter:\n"
                "            return x, k\n"
                "        x = x - lr * g\n"
                "        k += 1\n"),
            "gn-solution": (
                "def gauss_newton_step(f, x, y):\n"
                "    x0 = x.detach().clone()\n"
                "    J = torch.autograd.functional.jacobian(f, x0)\n"
                "    r = f(x0).detach() - y\n"
                "    return (x0 - torch.linalg.pinv(J) @ r).detach()\n"),
            "tv-solution": (
                "def total_variation(images):\n"
                "    out = []\n"
                "    for u in images:\n"
                "        tv = (u[1:, :] - u[:-1, :]).abs().sum() + (u[:, 1:] - u[:, :-1]).abs().sum()\n"
                "        out.append(tv)\n"
                "    return torch.stack(out)\n"),
            "restart-solution": (
                "def best_of_restarts(f, y, solver, starts):\n"
                "    results = []\n"
                "    for i in range(starts.shape[0]):\n"
                "        x = solver(f, y, starts[i])\n"
                "        results.append((torch.linalg.vector_norm(f(x) - y).item(), i, x))\n"
                "    r, _, x = min(results, key=lambda t: (t[0], t[1]))\n"
                "    return x, r\n"),
        },
    },
    "manual_grad_qr_normal_equations_vector_norm_l1": {
        "replace": {
            "gd-solution": (
                "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
                "    x = x0.detach().clone()\n"
                "    for step in range(max_iter + 1):\n"
                "        x.requires_grad_(True)\n"
                "        out = f(x)\n"
                "        res = torch.sqrt(((out - y) ** 2).sum())\n"
                "        if res <= tol or step == max_iter:\n"
                "            return x.detach(), step\n"
                "        grad = torch.autograd.grad(((out - y) ** 2).sum() / 2, x)[0]\n"
                "        with torch.no_grad():\n"
                "            x = x - lr * grad\n"),
            "gn-solution": (
                "def gauss_newton_step(f, x, y):\n"
                "    xd = x.detach()\n"
                "    J = torch.autograd.functional.jacobian(f, xd, vectorize=True)\n"
                "    Q, R = torch.linalg.qr(J)\n"
                "    s = torch.linalg.solve_triangular(R, -(Q.T @ (f(xd).detach() - y))[:, None], upper=True)[:, 0]\n"
                "    return xd + s\n"),
            "tv-solution": (
                "def total_variation(images):\n"
                "    n = images.shape[0]\n"
                "    dv = (images[:, 1:] - images[:, :-1]).reshape(n, -1)\n"
                "    dh = (images[:, :, 1:] - images[:, :, :-1]).reshape(n, -1)\n"
                "    return torch.linalg.vector_norm(torch.cat([dv, dh], dim=1), ord=1, dim=1)\n"),
            "restart-solution": (
                "def best_of_restarts(f, y, solver, starts):\n"
                "    best = None\n"
                "    for x0 in starts.unbind(0):\n"
                "        x = solver(f, y, x0)\n"
                "        r = torch.linalg.norm(f(x) - y).item()\n"
                "        if best is None or r < best[1]:\n"
                "            best = (x, r)\n"
                "    return best\n"),
        },
    },
}

RIGHT["experiment_diag_matrix_growth_from_counts_pixel_loop_tv_parameter_gd"] = {
    "replace": {
        "cond-solution": (
            "def gd_steps_for_condition(kappa, tol=1e-8):\n"
            "    A = torch.diag(torch.tensor([1.0, 1.0 / kappa ** 0.5], dtype=torch.float64))\n"
            "    def f(v):\n"
            "        return v @ A.T\n"
            "    x, k = gd_inverse(f, f(torch.ones(2, dtype=torch.float64)), torch.zeros(2, dtype=torch.float64),\n"
            "                      lr=1.0, tol=tol, max_iter=5000)\n"
            "    return int(k)\n"
            "\n"
            "counts = [gd_steps_for_condition(k) for k in (4, 16, 64, 256)]\n"
            "ratio = counts[-1] / counts[-2]\n"
            "STEPS_GROWTH = min([('constant', 1), ('sqrt', 2), ('linear', 4), ('quadratic', 16)],\n"
            "                   key=lambda c: abs(c[1] - ratio))[0]\n"),
        # computed in float32 when the images are float32 (the task asks for the input's dtype), else float64
        "tv-solution": (
            "def total_variation(images):\n"
            "    n, H, W = images.shape\n"
            "    tv = torch.zeros(n, dtype=images.dtype)\n"
            "    for i in range(H):\n"
            "        for j in range(W):\n"
            "            if i + 1 < H:\n"
            "                tv = tv + (images[:, i + 1, j] - images[:, i, j]).abs()\n"
            "            if j + 1 < W:\n"
            "                tv = tv + (images[:, i, j + 1] - images[:, i, j]).abs()\n"
            "    return tv\n"),
        "gd-solution": (
            "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
            "    x = torch.nn.Parameter(x0.detach().clone())\n"
            "    steps = 0\n"
            "    while steps < max_iter:\n"
            "        r = f(x) - y\n"
            "        if torch.linalg.vector_norm(r.detach().flatten()) <= tol:\n"
            "            break\n"
            "        loss = 0.5 * torch.sum(r * r)\n"
            "        (grad,) = torch.autograd.grad(loss, [x])\n"
            "        with torch.no_grad():\n"
            "            x.sub_(lr * grad)\n"
            "        steps += 1\n"
            "    return x.detach().clone(), steps\n"),
    },
}

# --- written blind from the release (issue 15 attack) ---
RIGHT["vjp_gd_cholesky_gn_l1_norm_tv_python_min_flat_direction_first"] = {
    "replace": {
        "gd-solution": (
            "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
            "    # grad of 0.5 ||f(x) - y||^2 is J^T (f(x) - y): a vector-Jacobian product\n"
            "    x = torch.empty_like(x0).copy_(x0)\n"
            "    for k in range(max_iter + 1):\n"
            "        fx, vjp = torch.func.vjp(f, x)\n"
            "        r = fx - y\n"
            "        if torch.linalg.vector_norm(r) <= tol or k == max_iter:\n"
            "            return x.detach(), k\n"
            "        (g,) = vjp(r)\n"
            "        x = x - lr * g\n"),
        "gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    x0 = x.detach().clone()\n"
            "    J = torch.autograd.functional.jacobian(f, x0)\n"
            "    with torch.no_grad():\n"
            "        g = J.mT @ (f(x0) - y)\n"
            "        L = torch.linalg.cholesky(J.mT @ J)\n"
            "        s = -torch.cholesky_solve(g.unsqueeze(1), L).squeeze(1)\n"
            "    return x0 + s\n"),
        "tv-solution": (
            "def total_variation(images):\n"
            "    n = images.shape[0]\n"
            "    dv = (images[:, 1:] - images[:, :-1]).reshape(n, -1)\n"
            "    dh = (images[..., 1:] - images[..., :-1]).reshape(n, -1)\n"
            "    return torch.linalg.vector_norm(dv, ord=1, dim=1) + torch.linalg.vector_norm(dh, ord=1, dim=1)\n"),
        "restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    scored = []\n"
            "    for s in starts.unbind(0):\n"
            "        c = solver(f, y, s)\n"
            "        scored.append((float(torch.sqrt(((f(c) - y) ** 2).sum())), c))\n"
            "    r, c = min(scored, key=lambda t: t[0])  # min keeps the first on ties\n"
            "    return c, r\n"),
        "cond-solution": (
            "import math\n"
            "\n"
            "def gd_steps_for_condition(kappa, tol=1e-8):\n"
            "    # the flat direction first: the same map up to renaming the coordinates\n"
            "    s = torch.tensor([1 / math.sqrt(kappa), 1.0], dtype=torch.float64)\n"
            "    f = lambda x: x * s\n"
            "    y = f(torch.ones(2, dtype=torch.float64))\n"
            "    return int(gd_inverse(f, y, torch.zeros(2, dtype=torch.float64), lr=1.0, tol=tol, max_iter=5000)[1])\n"
            "\n"
            "STEPS_GROWTH = 'linear'\n"),
    },
}
