"""`core.secrets`: every form in which a credential shows up in a message is masked."""

from __future__ import annotations

from core.secrets import redact, secret_forms


def test_a_credential_is_masked_whole_alone_and_escaped() -> None:
    text = (
        "401 for 'Bearer tk_live_9f8e' (token tk_live_9f8e revoked); "
        "Illegal header value b'Bearer tk_live_9f8e\\n'"
    )
    masked = redact(text, ["Bearer tk_live_9f8e", "Bearer tk_live_9f8e\n"])
    assert "tk_live" not in masked
    assert masked == "401 for '***' (token *** revoked); Illegal header value b'***'"


def test_short_parts_are_not_masked_on_their_own_but_a_short_secret_is() -> None:
    # "Key ab": "ab" alone would mask ordinary words; the whole value is masked
    assert redact("Key ab in a cab", ["Key ab"]) == "*** in a cab"
    assert redact("pin 12", ["12"]) == "pin ***"
    assert secret_forms(["", "Bearer abcdef"]) == ("Bearer abcdef", "abcdef")
