"""Plausible wrong answers to ex05_optimization; each must lose points where stated."""

_GD_HEAD = (
    "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
    "    x = x0.detach().clone()\n"
)

WRONG = {
    "gd_ascent_wrong_sign": {
        "replace": {"gd-solution": _GD_HEAD + (
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        if torch.linalg.norm(r.detach()) <= tol:\n"
            "            return x.detach(), k\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x + lr * g).detach()\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-basic", "gd-test-stopping"],
    },
    "gd_no_convergence_check": {
        "replace": {"gd-solution": _GD_HEAD + (
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x - lr * g).detach()\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-stopping"],
    },
    "gd_checks_after_the_step": {
        "replace": {"gd-solution": _GD_HEAD + (
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x - lr * g).detach()\n"
            "        if torch.linalg.norm(f(x) - y) <= tol:\n"
            "            return x, k\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-stopping"],
    },
    "gn_solves_with_J_instead_of_normal_equations": {
        "replace": {"gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    J = torch.autograd.functional.jacobian(f, x)\n"
            "    return (x + torch.linalg.solve(J, y - f(x))).detach()\n")},
        "loses": ["gn-test-tall"],
    },
    "gn_forgot_residual_sign": {
        "replace": {"gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    J = torch.autograd.functional.jacobian(f, x)\n"
            "    s = torch.linalg.solve(J.T @ J, J.T @ (f(x) - y))\n"
            "    return (x + s).detach()\n")},
        "loses": ["gn-test-square", "gn-test-tall"],
    },
    "tv_missing_abs": {
        "replace": {"tv-solution": (
            "def total_variation(images):\n"
            "    down = (images[:, 1:, :] - images[:, :-1, :]).sum(dim=(1, 2))\n"
            "    across = (images[:, :, 1:] - images[:, :, :-1]).sum(dim=(1, 2))\n"
            "    return down + across\n")},
        "loses": ["tv-test"],
    },
    "tv_batch_axis_instead_of_rows": {
        "replace": {"tv-solution": (
            "def total_variation(images):\n"
            "    across = (images[:, :, 1:] - images[:, :, :-1]).abs().sum(dim=(1, 2))\n"
            "    batch = (images[1:] - images[:-1]).abs().sum()\n"
            "    return across + batch\n")},
        "loses": ["tv-test"],
    },
    "tv_squared_differences": {
        "replace": {"tv-solution": (
            "def total_variation(images):\n"
            "    down = ((images[:, 1:, :] - images[:, :-1, :]) ** 2).sum(dim=(1, 2))\n"
            "    across = ((images[:, :, 1:] - images[:, :, :-1]) ** 2).sum(dim=(1, 2))\n"
            "    return down + across\n")},
        "loses": ["tv-test"],
    },
    "restart_keeps_the_last": {
        "replace": {"restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    for x0 in starts:\n"
            "        x = solver(f, y, x0)\n"
            "    return x, float(torch.linalg.norm(f(x) - y))\n")},
        "loses": ["restart-test"],
    },
    "restart_judges_the_start_not_the_result": {
        "replace": {"restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    r = torch.stack([torch.linalg.norm(f(x0) - y) for x0 in starts])\n"
            "    x = solver(f, y, starts[int(r.argmin())])\n"
            "    return x, float(torch.linalg.norm(f(x) - y))\n")},
        "loses": ["restart-test"],
    },
}
