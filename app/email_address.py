"""What an e-mail address people or hosters write must look like: one check, email-validator's.

Syntax only, never a DNS lookup: the mail the panel sends is the real proof that an address
works. `app.mail.checked_recipient` is a different guard: it keeps a directory value from
breaking a message's headers and accepts what the local mail server accepts.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def is_email_address(text: str) -> bool:
    """True for one address such as name@example.org: no display name, brackets, spaces or
    commas, a domain with a dot that is not a reserved name (.local, .test, localhost)."""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True
