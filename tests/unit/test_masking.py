"""Masking the password of a URL quoted in a message, well formed or not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet.masking import mask_url, quoted_url, without

PW = "Zq9-distinctive-PW"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"postgresql://u:{PW}@h:5432/db", "postgresql://u:***@h:5432/db"),
        (f"postgresql://u:{PW}@h:abc", "postgresql://u:***@h:abc"),
        (f"postgresql://u:{PW}@h:70000", "postgresql://u:***@h:70000"),
        (f"postgresql://u:{PW}@[::1", "postgresql://u:***@[::1"),
        (f"oracle://u:{PW}@h", "oracle://u:***@h"),
        (f"u:{PW}@h/db", "u:***@h/db"),
        (f"postgresql:u:{PW}@h", "postgresql:***@h"),
        (f"postgresql://u:{PW}\n@h", "postgresql://u:***@h"),
        # A password holding `@`, `/` or `://` is masked up to the host.
        ("postgresql://u:Zq9@/x@h", "postgresql://u:***@h"),
        ("u:a://Zq9@h", "u:***@h"),
        # No `@host`: the "port" may be the password.
        (f"postgresql://u:{PW}", "postgresql://u:***"),
        (f"postgresql://u:{PW}/db", "postgresql://u:***"),  # it may hold the `/`
        ("postgresql://u:ab/Zq9SECRET", "postgresql://u:***"),
        ("postgresql://admin:1234567", "postgresql://admin:***"),  # no port is that big
        # Any `...password=` setting: in a query, or libpq's `key=value` form.
        (f"host=h password={PW}", "host=h password=***"),
        (f"host=h password='{PW} x' port=5", "host=h password=*** port=5"),
        (
            f"postgresql://u@h/x?sslpassword={PW}&sslmode=bad",
            "postgresql://u@h/x?sslpassword=***&sslmode=bad",
        ),
        (f"postgresql://u@h/db?sslmode=require&password={PW}", None),
        # Nothing to mask.
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://[::1]:5432", "postgresql://[::1]:5432"),
        ("sqlite:///srv/tenants@2024", "sqlite:///srv/tenants@2024"),
        ("db1:5432", "db1:5432"),
    ],
)
def test_the_password_is_masked(url: str, masked: str | None) -> None:
    assert PW not in mask_url(url) and "Zq9" not in mask_url(url)
    if masked is not None:
        assert mask_url(url) == masked


def test_a_quoted_url_is_one_line_and_masked() -> None:
    shown = quoted_url(f"postgresql://u:{PW}@h\n:5432")
    assert shown == "'postgresql://u:***@h\\n:5432'"


def test_without_masks_a_known_secret() -> None:
    assert without(PW, f"login refused for {PW}") == "login refused for ***"
    assert without(None, "text") == "text"
    assert without("", "text") == "text"


@given(
    scheme=st.sampled_from(["postgresql://", "mysql://", "foo://", "", "postgresql:"]),
    user=st.text(st.characters(blacklist_characters=":/@"), max_size=8),
    password=st.text(max_size=20).map(lambda s: "Zq9" + s),
    rest=st.text(st.characters(blacklist_characters="@"), max_size=20).filter(
        lambda s: "Zq9" not in s
    ),
)
def test_any_user_password_at_host_is_masked(
    scheme: str, user: str, password: str, rest: str
) -> None:
    assert "Zq9" not in mask_url(f"{scheme}{user}:{password}@{rest}")
