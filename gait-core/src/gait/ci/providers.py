"""CI providers: how a plugin adds `gait ci init --provider <name>`.

A plugin registers a provider by name with a factory returning a `CIProvider`:

    from gait.hookspecs import Registry, hookimpl

    def provider():
        from gait_plugin_gitlab.template import PROVIDER   # imported only when used
        return PROVIDER

    @hookimpl
    def gait_register(registry: Registry) -> None:
        registry.add_ci_provider("gitlab", provider, description="...")

`render(options)` returns the template text. Every template is a thin wrapper around the one
contract: install the pinned `gait-cli` (`options.requirements`), run `options.contract_command()`,
publish `gait-out/ci/junit.xml` through the provider's test reports and keep `gait-out/ci/` as
an artifact. A provider may also `report` a finished contract run into its CI system (the
GitHub plugin writes the job's step summary, outputs and annotations); `active(environ)` says
whether the current process runs inside that CI system.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from gait.ci.contract import DEMO_FIXTURE, ContractOutcome
from gait.errors import InvalidInputError
from gait.regress.config import CONFIG_FILE_NAME

# How messages name a provider, and the prefix of a deprecated `gait_bridge` sink that is one.
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
    provider's native wiring of junit.xml (for `gait ci providers` and the docs).
    `shell_commands(text)` lists, in order, every shell command line a rendered template runs
    (the CI lane's tests check it runs only the pinned install and the contract); `schema` names
    the template's schema in check-jsonschema's `--builtin-schema` catalogue, when there is one.
    A provider's tests come from these fields: adding one touches only its own plugin."""

    name: str
    template_path: str
    render: Callable[[TemplateOptions], str]
    description: str = ""
    test_report: str = ""
    active: Callable[[Mapping[str, str]], bool] | None = None
    report: Callable[[ContractOutcome, Mapping[str, str]], None] | None = None
    shell_commands: Callable[[str], list[str]] | None = None
    schema: str = ""


def command_lines(scripts: Iterable[str]) -> list[str]:
    """The non-blank lines of shell scripts, stripped, in order (for `shell_commands`)."""
    return [line.strip() for script in scripts for line in script.splitlines() if line.strip()]


class _ProviderBackend(Protocol):
    @property
    def factory(self) -> Callable[[], object]: ...


class _Owners(Protocol):
    def owned_by_kind(self, kind: str) -> list[tuple[str, str]]: ...


class ProviderSource(Protocol):
    """What `installed_providers` needs of `gait.plugins.PluginHost`, declared here so that
    this module, which the plugin registry imports, does not import the host back."""

    @property
    def problems(self) -> Sequence[str]: ...

    def ci_providers(self) -> Mapping[str, _ProviderBackend]: ...

    def registry(self) -> _Owners: ...


def installed_providers(host: ProviderSource) -> tuple[dict[str, CIProvider], list[str]]:
    """The CI providers of the loaded plugins by name, and a message for each plugin whose
    registrations failed or whose provider could not be built (one broken plugin never hides
    the others)."""
    providers: dict[str, CIProvider] = {}
    backends = host.ci_providers()
    problems = list(host.problems)
    owners = dict(host.registry().owned_by_kind("ci_provider"))
    for name, backend in backends.items():
        label = f"{owners.get(name, '?')}: {PROVIDER_BRIDGE_PREFIX}{name}"
        try:
            provider = backend.factory()
            if not isinstance(provider, CIProvider):
                raise TypeError(f"returned {type(provider).__name__}, not CIProvider")
            if provider.name != name:
                raise TypeError(f"returned the provider {provider.name!r}")
        except Exception as exc:
            problems.append(f"{label}: {exc}")
            continue
        providers[name] = provider
    return dict(sorted(providers.items())), problems
