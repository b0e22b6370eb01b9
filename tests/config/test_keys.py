"""Bind expressions: the fields and filters a template names."""

from __future__ import annotations

from analytics_provider.config.keys import is_template, template_fields

PROJECT_SLUG = "{vcs_type|vcs_slug}/{username}/{reponame}"


def test_template_fields() -> None:
    assert template_fields("id") == [("id", None)]
    assert template_fields(PROJECT_SLUG) == [("vcs_type", "vcs_slug"), ("username", None), ("reponame", None)]
    assert template_fields("{ a | vcs_slug }") == [("a", "vcs_slug")]
    assert is_template(PROJECT_SLUG)
    assert not is_template("id")
