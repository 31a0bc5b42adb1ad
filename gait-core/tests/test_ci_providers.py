"""CI provider records: template options are checked, and one broken provider plugin never
hides the others."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gait.ci import CIProvider, TemplateOptions, installed_providers
from gait.errors import InvalidInputError
from gait.hookspecs import Bridge, hookimpl
from gait.plugins import PluginHost


def test_the_contract_and_install_lines() -> None:
    options = TemplateOptions(gait_version="1.2.3", packages=("gait-plugin-x==1.2.3",))
    assert options.requirements == ("gait-cli==1.2.3", "gait-plugin-x==1.2.3")
    assert options.pip_install("python3") == (
        "python3 -m pip install --disable-pip-version-check --no-input "
        "'gait-cli==1.2.3' 'gait-plugin-x==1.2.3'"
    )
    assert options.contract_command() == "gait ci regress --fixture demo"
    custom = TemplateOptions(gait_version="1.2.3", config="ci/suite.json", fixture="")
    assert (
        custom.contract_command("venv/bin/gait")
        == "venv/bin/gait ci regress --config ci/suite.json"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"gait_version": "latest"},
        {"gait_version": "1.0\nrun: evil"},
        {"gait_version": "1", "config": "a b.yaml"},
        {"gait_version": "1", "config": "-rf"},
        {"gait_version": "1", "config": "gait.yaml\n"},
        {"gait_version": "1", "fixture": "$(id)"},
        {"gait_version": "1", "packages": ("x'y",)},
        {"gait_version": "1", "packages": ("x y",)},
    ],
)
def test_values_a_template_cannot_carry_safely_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="invalid"):
        TemplateOptions(**fields)  # type: ignore[arg-type]


def _render(options: TemplateOptions) -> str:
    return options.contract_command()


GOOD = CIProvider(name="good", template_path="good.yml", render=_render)


class GoodPlugin:
    @hookimpl
    def gait_bridge(self) -> list[Bridge]:
        return [
            Bridge(name="ci.good", kind="sink", factory=lambda: GOOD),
            Bridge(name="ci.adapter", kind="adapter", factory=lambda: GOOD),  # not a sink
            Bridge(name="other", kind="sink", factory=lambda: 1 / 0),  # not ci.*: never built
        ]


class BrokenPlugin:
    @hookimpl
    def gait_bridge(self) -> list[Bridge]:
        raise RuntimeError("broken bridges")


class WrongTypePlugin:
    @hookimpl
    def gait_bridge(self) -> Bridge:
        return Bridge(name="ci.wrong", kind="sink", factory=lambda: SimpleNamespace(name="wrong"))


def test_one_broken_provider_plugin_never_hides_the_others() -> None:
    host = PluginHost()
    for name, plugin in (
        ("good", GoodPlugin()),
        ("broken", BrokenPlugin()),
        ("wrong", WrongTypePlugin()),
    ):
        host.manager.register(plugin, name=name)
    providers, problems = installed_providers(host)
    assert providers == {"good": GOOD}
    assert sorted(problems) == [
        "broken: gait_bridge failed: broken bridges",
        "wrong: ci.wrong: returned SimpleNamespace, not CIProvider",
    ]


def test_no_plugins_no_providers() -> None:
    assert installed_providers(PluginHost()) == ({}, [])
