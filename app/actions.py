"""One-button actions: the form that only carries the CSRF token, and `staff_action()`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from flask import abort, flash, redirect
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from app.db import discard_changes

T = TypeVar("T")

# What a refusal flashes: a fixed text, or one made from the domain error.
Refusal = str | Callable[[Exception], str]


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


def staff_action(
    change: Callable[[], T],
    *,
    back: str,
    refused: Mapping[type[Exception], Refusal],
    done: str | Callable[[T], str | None] | None = None,
) -> ResponseReturnValue:
    """One button on a staff page: check its token, make one change, flash, go back.

    The caller has already loaded the object (404 when it is not there); `change` calls the
    service, which records the audit line. A domain error listed in `refused` forgets what
    the change wrote and flashes its text; otherwise `done` (a text, or a function of what
    `change` returned that may hand work on and give a text or None) is flashed. Either
    way the browser goes back to `back`.
    """
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = change()
    except tuple(refused) as exc:
        discard_changes()
        refusal = next(text for kind, text in refused.items() if isinstance(exc, kind))
        flash(refusal if isinstance(refusal, str) else refusal(exc), "error")
        return redirect(back)
    message = done(result) if callable(done) else done
    if message is not None:
        flash(message, "success")
    return redirect(back)
