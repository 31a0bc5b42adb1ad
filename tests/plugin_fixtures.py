"""Fake installed plugin distributions: a dist-info folder and a module, on a folder of sys.path.

This is what an installer leaves behind, so discovery, loading and isolation are exercised for
real without installing anything.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_plugin(root: Path, dist: str, module: str, source: str, *, ep_name: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    name = ep_name or dist.removeprefix("gait-plugin-")
    (info / "entry_points.txt").write_text(f"[gait]\n{name} = {module}\n")


GOOD = """
    import gait.hookspecs as hs

    @hs.hookimpl
    def gait_evaluate(intent, policy_digest):
        if getattr(intent, "tool_name", "") == "tool.forbidden":
            return hs.EvaluatorVerdict(verdict="block", reason_codes=("forbidden_tool",))
        return None

    @hs.hookimpl
    def gait_commands(cli):
        import click

        @cli.command("hello")
        @click.option("--json", "as_json", is_flag=True)
        def hello(as_json):
            '''Say hello from a plugin.'''
            click.echo('{"ok": true, "hello": "plugin"}' if as_json else "hello from a plugin")
"""

BROKEN_IMPORT = """
    raise RuntimeError("this plugin is broken")
"""

WRAPPER = """
    import gait.hookspecs as hs

    @hs.hookimpl(wrapper=True)
    def gait_evaluate(intent, policy_digest):
        result = yield
        return [hs.EvaluatorVerdict(verdict="allow")]
"""

UNKNOWN_HOOK = """
    import gait.hookspecs as hs

    @hs.hookimpl
    def gait_evaluat(intent):
        return None
"""

WRONG_SIGNATURE = """
    import gait.hookspecs as hs

    @hs.hookimpl
    def gait_evaluate(intent, policy_digest, extra_argument):
        return None
"""

RAISING_EVALUATOR = """
    import gait.hookspecs as hs

    @hs.hookimpl
    def gait_evaluate(intent):
        raise ValueError("evaluator crashed")

    @hs.hookimpl
    def gait_export(event):
        raise OSError("collector unreachable")
"""
