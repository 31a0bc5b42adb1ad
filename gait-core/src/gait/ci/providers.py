"""CI providers: how a plugin adds `gait ci init --provider <name>`.

A provider is a `gait_bridge` sink (it carries a regress result into a CI system) named
`ci.<name>` whose factory returns a `CIProvider`:

    from gait.hookspecs import Bridge, hookimpl

    @hookimpl
    def gait_bridge():
        def provider():
            from gait_plugin_gitlab.template import PROVIDER   # imported only when used
            return PROVIDER
        return [Bridge(name="ci.gitlab", kind="sink", factory=provider)]

`render(options)` returns the template text. Every template is a thin wrapper around the one
contract: install the pinned `gait-cli` (`options.requirements`), run `options.contract_command()`,
publish `gait-out/ci/junit.xml` through the provider's test reports and keep `gait-out/ci/` as
an artifact. A provider may also `report` a finished contract run into its CI system (the
GitHub plugin writes the job's step summary, outputs and annotations); `active(environ)` says
whether the current process runs inside that CI system.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from gait.ci.contract import DEMO_FIXTURE, ContractOutcome
from gait.errors import InvalidInputError
from gait.regress.config import CONFIG_FILE_NAME

if TYPE_CHECKING:
    from gait.plugins import PluginHost

PROVIDER_BRIDGE_PREFIX = "ci."
GAIT_CLI = "gait-cli"

# What a template may carry without quoting trouble in YAML, sh and Groovy strings.
# Matched whole (`fullmatch`): a newline must not slip through as `$` would let it.
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!-]*")
_PATH = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*")
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\[\],=<>!~*+-]*")


def _check(pattern: re.Pattern[str], what: str) -> Callable[[Any, Any, str], None]:
    def validate(_instance: Any, _attribute: Any, value: str) -> None:
        if not pattern.fullmatch(value):
            raise InvalidInputError(f"invalid {what} for a CI template: {value!r}")

    return validate


def _check_fixture(_instance: Any, _attribute: Any, value: str) -> None:
    if value and not _PATH.fullmatch(value):
        raise InvalidInputError(f"invalid fixture for a CI template: {value!r}")


def _check_packages(_instance: Any, _attribute: Any, value: tuple[str, ...]) -> None:
    for package in value:
        if not _PACKAGE.fullmatch(package):
            raise InvalidInputError(f"invalid package for a CI template: {package!r}")


@attrs.frozen(kw_only=True)
class TemplateOptions:
    """What every provider template is made of; the values are checked so that a template
    never needs shell quoting beyond single quotes."""

    gait_version: str = attrs.field(validator=_check(_VERSION, "gait version"))
    config: str = attrs.field(default=CONFIG_FILE_NAME, validator=_check(_PATH, "config path"))
    fixture: str = attrs.field(default=DEMO_FIXTURE, validator=_check_fixture)
    packages: tuple[str, ...] = attrs.field(default=(), validator=_check_packages)

    def pinned(self, distribution: str) -> str:
        """`distribution==<gait version>`: gait and its plugins are released in lockstep."""
        return f"{distribution}=={self.gait_version}"

    @property
    def requirements(self) -> tuple[str, ...]:
        """What the template installs: the pinned gait-cli, then the extra packages."""
        return (self.pinned(GAIT_CLI), *self.packages)

    def pip_install(self, python: str = "python", extra: tuple[str, ...] = ()) -> str:
        """The install command line, each requirement single-quoted."""
        quoted = " ".join(f"'{requirement}'" for requirement in (*self.requirements, *extra))
        return f"{python} -m pip install --disable-pip-version-check --no-input {quoted}"

    def contract_command(self, gait: str = "gait") -> str:
        """The one gait command a template runs."""
        command = f"{gait} ci regress"
        if self.config != CONFIG_FILE_NAME:
            command += f" --config {self.config}"
        if self.fixture:
            command += f" --fixture {self.fixture}"
        return command


@attrs.frozen(kw_only=True)
class CIProvider:
    """A CI system's template for `gait ci init --provider <name>`, and optionally its report.

    `template_path` is where the template goes in a repository; `test_report` names the
    provider's native wiring of junit.xml (for `gait ci providers` and the docs)."""

    name: str
    template_path: str
    render: Callable[[TemplateOptions], str]
    description: str = ""
    test_report: str = ""
    active: Callable[[Mapping[str, str]], bool] | None = None
    report: Callable[[ContractOutcome, Mapping[str, str]], None] | None = None


def installed_providers(host: PluginHost) -> tuple[dict[str, CIProvider], list[str]]:
    """The CI providers of the loaded plugins by name, and a message for each plugin whose
    bridges could not be listed (one broken plugin never hides the others)."""
    providers: dict[str, CIProvider] = {}
    problems: list[str] = []
    for impl in host.hookimpls("gait_bridge"):
        try:
            answer: Any = impl.function()
        except Exception as exc:
            problems.append(f"{impl.plugin_name}: gait_bridge failed: {exc}")
            continue
        if isinstance(answer, list | tuple):
            bridges = list(answer)
        else:
            bridges = [] if answer is None else [answer]
        for bridge in bridges:
            name = str(getattr(bridge, "name", ""))
            if getattr(bridge, "kind", "") != "sink" or not name.startswith(PROVIDER_BRIDGE_PREFIX):
                continue
            try:
                provider = bridge.factory()
                if not isinstance(provider, CIProvider):
                    raise TypeError(f"returned {type(provider).__name__}, not CIProvider")
            except Exception as exc:
                problems.append(f"{impl.plugin_name}: {name}: {exc}")
                continue
            providers[provider.name] = provider
    return dict(sorted(providers.items())), problems
