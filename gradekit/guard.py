"""nbgrader preprocessors that keep a submission from earning points it does not deserve.

Student code and the (hidden) tests share one kernel, and a submission is a file the student controls.
Three preprocessors close the gaps stock nbgrader leaves:

* :class:`ReconcileCells` (``Autograde.sanitize_preprocessors``, after ``OverwriteCells``) rebuilds every
  locked cell and every cell's nbgrader metadata from the gradebook (``grade``, ``points``, ``locked``,
  ``cell_type``), demotes cells whose ``grade_id`` the assignment does not have, and puts back each
  **deleted or renamed test cell as a failing cell**: for every test cell :math:`t` of the source notebook,
  :math:`\\text{max}(t)` is kept and :math:`\\text{score}(t) = 0` unless :math:`t`'s original code ran and passed.
  So :math:`\\sum_t \\text{max}(t)` can never shrink.
* :class:`TamperGuard` (``Autograde.autograde_preprocessors``, before ``Execute``) inserts a cell before
  the first cell that snapshots what tests rely on -- every public attribute of ``builtins``, ``math``,
  ``operator``, ``numpy``, ``numpy.testing``, ``torch``, ``torch.testing``, ``torch.linalg`` (those the
  notebook uses), the methods of ``torch.Tensor``, IPython's input/AST transformers and event
  callbacks, ``sys.settrace``/``sys.setprofile`` -- into a module the student's namespace does not
  reference, and, around every test cell, a *pre* cell that restores all of it (and un-shadows builtins
  and module names the student rebound in the user namespace) and a *post* cell that checks nothing was
  replaced while the test ran.
* :class:`TamperVerdict` (right after ``Execute``) removes those cells again and, where the pre or post
  cell found the snapshot altered (or did not report at all), appends a ``TamperingDetected`` error to
  the test cell, so nbgrader scores it 0.

Limits (stated honestly): code running in the same interpreter can, in principle, find and defeat any
in-process guard if it is written against this guard specifically; the sandbox (:mod:`gradekit.sandbox`)
keeps that confined to the student's own grade.
"""

from __future__ import annotations

import json
import secrets

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output, new_raw_cell
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

ROLE_KEY = "gradekit"
SENTINEL = "GRADEKIT-GUARD"
DELETED_TEST = "gradekit: the test cell {gid!r} was deleted, renamed or altered in this submission; it scores 0."

# The guard, as it runs in the kernel. Placeholders: __NONCE__, __MODULES__ (JSON list).
_INIT = r'''
def __gradekit_install(nonce, module_names):
    import builtins, importlib, sys, types
    missing = object()
    mods = {"builtins": builtins}
    for name in module_names:
        try:
            mods[name] = importlib.import_module(name)
        except Exception:
            pass
    # torch re-wraps one of its own functions lazily: importing torch._dynamo (which the first torch.optim
    # step does) runs `torch.manual_seed = torch._disable_dynamo(torch.manual_seed)`. Importing it here
    # cost 2.5 s per notebook; instead restore() accepts exactly that change (see `rewrapped`).
    rewrapped = {("torch", "manual_seed"): "torch._dynamo"}
    volatile = {"input", "raw_input", "exit", "quit", "get_ipython", "display", "help", "copyright", "credits",
                "license"}   # rebound by IPython/ipykernel themselves on every execution
    def public(d):
        return {k: v for k, v in d.items()
                if (not k.startswith("_") or k in ("__import__", "__build_class__")) and k not in volatile}
    snap = {name: public(dict(vars(m))) for name, m in mods.items()}
    classes = []
    for path in ("torch.Tensor",):
        mod, _, attr = path.rpartition(".")
        if mod in mods:
            cls = getattr(mods[mod], attr, None)
            if isinstance(cls, type):
                classes.append((cls, dict(vars(cls))))
    ip = get_ipython()
    hook_names = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
    hooks = {h: list(getattr(ip, h, [])) for h in hook_names}
    events = {k: list(v) for k, v in ip.events.callbacks.items()}
    shell_methods = {k for k in dir(type(ip)) if callable(getattr(type(ip), k, None))}
    shell_own = {k: v for k, v in vars(ip).items() if k in shell_methods}
    tracing = (sys.gettrace(), sys.getprofile(), sys.displayhook, sys.excepthook)
    relied_on = {"isinstance", "issubclass", "len", "abs", "all", "any", "callable", "hasattr", "getattr",
                 "type", "float", "int", "bool", "str", "list", "tuple", "dict", "set", "sorted", "min", "max",
                 "sum", "round", "repr", "range", "zip", "enumerate", "AssertionError", "Exception",
                 "ValueError", "TypeError", "print", "__import__"}
    instructor = {}   # user-namespace names bound to modules by instructor cells
    pending = {}
    def restore():
        found = []
        for name, m in mods.items():
            if sys.modules.get(name, m) is not m:
                found.append("sys.modules[%r]" % name)
                sys.modules[name] = m
            if type(m) is not types.ModuleType:
                found.append(name + ".__class__")
                m.__class__ = types.ModuleType
            d = vars(m)
            for k, v in snap[name].items():
                cur = d.get(k, missing)
                if cur is not v:
                    lazy = rewrapped.get((name, k))
                    if lazy and lazy in sys.modules and getattr(cur, "__wrapped__", missing) is v:
                        snap[name][k] = cur   # torch's own re-wrap on importing torch._dynamo
                        continue
                    found.append(name + "." + k)
                    d[k] = v
        for cls, orig in classes:
            for k in list(vars(cls)):
                if k not in orig:
                    found.append(cls.__name__ + "." + k)
                    type.__delattr__(cls, k)
            for k, v in orig.items():
                if vars(cls).get(k, missing) is not v:
                    found.append(cls.__name__ + "." + k)
                    type.__setattr__(cls, k, v)
        for h, orig in hooks.items():
            cur = getattr(ip, h, None)
            if not isinstance(cur, list) or len(cur) != len(orig) or any(a is not b for a, b in zip(cur, orig)):
                found.append("IPython." + h)
                setattr(ip, h, list(orig))
        for k, orig in events.items():
            cur = ip.events.callbacks.get(k, [])
            if len(cur) != len(orig) or any(a is not b for a, b in zip(cur, orig)):
                found.append("IPython.events." + k)
                ip.events.callbacks[k] = list(orig)
        for k in [k for k in vars(ip) if k in shell_methods and vars(ip)[k] is not shell_own.get(k, missing)]:
            found.append("IPython.shell." + k)
            if k in shell_own:
                setattr(ip, k, shell_own[k])
            else:
                delattr(ip, k)
        if (sys.gettrace(), sys.getprofile(), sys.displayhook, sys.excepthook) != tracing:
            found.append("sys hooks")
            sys.settrace(tracing[0]); sys.setprofile(tracing[1])
            sys.displayhook, sys.excepthook = tracing[2], tracing[3]
        ns = ip.user_ns
        for k, m in instructor.items():
            if ns.get(k) is not m:
                ns[k] = m   # a module name the student rebound: give the tests the real module back
        for k in [k for k in list(ns) if k in relied_on]:
            if ns[k] is not snap["builtins"].get(k) and callable(ns[k]) and k not in instructor:
                del ns[k]   # a builtin the tests rely on, shadowed by a callable: the tests see the real one
        return found
    def record():
        for k, v in ip.user_ns.items():
            if isinstance(v, types.ModuleType) and not k.startswith("_"):
                instructor.setdefault(k, v)
    def pre(gid):
        pending[gid] = restore()
    def post(gid):
        found = pending.pop(gid, ["no pre-test check ran"]) + restore()
        print("%s %s %s %s" % ("GRADEKIT-GUARD", nonce, gid, json_dumps(sorted(set(found)))))
    import json
    json_dumps = json.dumps
    guard = types.ModuleType("_gk_" + nonce)
    guard.pre, guard.post, guard.record = pre, post, record
    sys.modules[guard.__name__] = guard
__gradekit_install("__NONCE__", __MODULES__)
del __gradekit_install
'''
_PRE = '__import__("sys").modules["_gk___NONCE__"].pre(__GID__)'
_POST = '__import__("sys").modules["_gk___NONCE__"].post(__GID__)'
_RECORD = '__import__("sys").modules["_gk___NONCE__"].record()'


def _nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell: NotebookNode) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _guard_cell(source: str, role: str, gid: str | None = None) -> NotebookNode:
    cell = new_code_cell(source)
    cell.metadata[ROLE_KEY] = {"role": role, "grade_id": gid}
    return cell


class ReconcileCells(NbGraderPreprocessor):
    """Make every nbgrader cell of a submission what the gradebook says it is; put back deleted tests.

    For a source notebook with test cells :math:`T` and a submission with cells :math:`S`:
    cells of :math:`S` whose ``grade_id`` is not in the source lose their nbgrader metadata; locked
    cells get the source's type and text; every cell gets the source's ``grade``/``solution``/``locked``/
    ``points``; each :math:`t \\in T` missing from :math:`S` is inserted (after the cell that preceded
    it in the source) as ``raise AssertionError(...)``, so it scores 0 of its points.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            src = gb.find_notebook(info["notebook"], info["assignment"])
            order = [c.name for c in src.source_cells]
            source = {c.name: (c.cell_type, c.source, c.locked, c.checksum) for c in src.source_cells}
            points = {c.name: float(c.max_score) for c in src.grade_cells}
            grade_types = {c.name: c.cell_type for c in src.grade_cells}
            solutions = {c.name for c in src.solution_cells}
            tasks = {c.name for c in src.task_cells}
        cells: list[NotebookNode] = []
        seen: set[str] = set()
        for cell in nb.cells:
            gid = _nbgrader(cell).get("grade_id")
            if gid is None:
                cells.append(cell)
                continue
            if gid not in source or gid in seen:
                self.log.warning("gradekit: cell %r is not a cell of this assignment: treated as a plain cell", gid)
                del cell.metadata["nbgrader"]
                cells.append(cell)
                continue
            seen.add(gid)
            cell_type, text, locked, checksum = source[gid]
            if locked or cell.cell_type != cell_type:
                if cell.cell_type != cell_type or cell.source != text:
                    self.log.warning("gradekit: locked cell %r was altered: restored from the source", gid)
                keep = {k: v for k, v in cell.metadata.items() if k != "nbgrader"}
                cell = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}[cell_type](text)
                cell.metadata.update(keep)
            meta = {"grade": gid in points, "solution": gid in solutions, "locked": bool(locked),
                    "grade_id": gid, "schema_version": 3}
            if gid in points:
                meta["points"] = points[gid]
            if gid in tasks:
                meta["task"] = True
            if checksum:
                meta["checksum"] = checksum
            cell.metadata["nbgrader"] = meta
            cells.append(cell)
        for gid in order:
            if gid in points and gid not in seen and grade_types[gid] == "code" and gid not in solutions:
                self.log.warning("gradekit: test cell %r is missing from the submission: it scores 0", gid)
                stub = new_code_cell(f"raise AssertionError({DELETED_TEST.format(gid=gid)!r})")
                stub.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": gid,
                                             "points": points[gid], "schema_version": 3}
                before = order[: order.index(gid)]
                at = 0
                for i, c in enumerate(cells):
                    if _nbgrader(c).get("grade_id") in before:
                        at = i + 1
                cells.insert(at, stub)
                seen.add(gid)
        nb.cells = cells
        return nb, resources


class TamperGuard(NbGraderPreprocessor):
    """Insert the snapshot cell and a restore/check cell pair around every test cell (see module doc).

    ``modules``: the modules whose public attributes are snapshotted; a heavy one (``torch``, ``scipy``,
    ``invlib``...) only when the notebook's text mentions its top-level name.
    """

    modules = List(Unicode(), default_value=[
        "math", "cmath", "operator", "functools", "numbers", "numpy", "numpy.testing", "numpy.linalg",
        "torch", "torch.testing", "torch.linalg", "torch.nn.functional", "torch.autograd", "scipy", "invlib",
    ]).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        light = {"math", "cmath", "operator", "functools", "numbers"}
        mods = [m for m in self.modules if m in light or m.split(".")[0] in text]
        nonce = secrets.token_hex(8)
        resources.setdefault("gradekit", {})["nonce"] = nonce
        sub = lambda s, gid=None: s.replace("__NONCE__", nonce).replace("__GID__", json.dumps(gid))  # noqa: E731
        cells = [_guard_cell(_INIT.replace("__NONCE__", nonce).replace("__MODULES__", json.dumps(mods)), "init")]
        for cell in nb.cells:
            if _is_test(cell):
                gid = _nbgrader(cell)["grade_id"]
                cells += [_guard_cell(sub(_PRE, gid), "pre", gid), cell, _guard_cell(sub(_POST, gid), "post", gid)]
            else:
                cells.append(cell)
                meta = _nbgrader(cell)
                if cell.cell_type == "code" and meta.get("locked") and not meta.get("solution"):
                    cells.append(_guard_cell(sub(_RECORD), "record"))
        nb.cells = cells
        return nb, resources


class TamperVerdict(NbGraderPreprocessor):
    """Remove the guard cells; fail each test cell whose guard saw tampering or did not report."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nonce = resources.get("gradekit", {}).get("nonce")
        if nonce is None:  # TamperGuard did not run: nothing to judge
            return nb, resources
        verdicts: dict[str, list[str] | None] = {}
        for cell in nb.cells:
            role = cell.metadata.get(ROLE_KEY, {})
            if role.get("role") == "post":
                verdicts[role["grade_id"]] = _read_verdict(cell, nonce, role["grade_id"])
        kept = []
        for cell in nb.cells:
            if ROLE_KEY in cell.metadata and cell.metadata[ROLE_KEY].get("role") in ("init", "pre", "post", "record"):
                continue
            if _is_test(cell):
                gid = _nbgrader(cell)["grade_id"]
                found = verdicts.get(gid)
                already_failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                if found is None or found:
                    what = "the grader's integrity check did not report" if found is None else ", ".join(found[:8])
                    self.log.warning("gradekit: tampering in %s: %s", gid, what)
                    if not already_failed or found:
                        cell.outputs.append(new_output(
                            "error", ename="TamperingDetected",
                            evalue=f"this test does not count: code replaced what the tests rely on ({what})",
                            traceback=[f"TamperingDetected: code replaced what the tests rely on ({what})"]))
            kept.append(cell)
        nb.cells = kept
        return nb, resources


def _read_verdict(cell: NotebookNode, nonce: str, gid: str) -> list[str] | None:
    """The names the post cell reported as replaced; ``None`` if it printed no valid report."""
    prefix = f"{SENTINEL} {nonce} {gid} "
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            for line in out.get("text", "").splitlines():
                if line.startswith(prefix):
                    try:
                        found = json.loads(line[len(prefix):])
                    except ValueError:
                        return None
                    return [str(x) for x in found] if isinstance(found, list) else None
    return None
