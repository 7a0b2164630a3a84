import random
import re
import time

from server.core.ids import ALPHABET, base32, new_id


def _digits(value: int) -> str:
    out = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def test_base32_is_the_positional_base_32_of_the_value() -> None:
    rng = random.Random(7)
    values = [0, 1, 31, 32, 2**130 - 1] + [rng.getrandbits(130) for _ in range(2000)]
    for value in values:
        encoded = base32(value)
        assert encoded == _digits(value)
        assert sum(ALPHABET.index(c) * 32**i for i, c in enumerate(reversed(encoded))) == value


def test_new_ids_have_the_prefix_and_sort_by_millisecond() -> None:
    first = new_id("tsk")
    time.sleep(0.002)
    second = new_id("tsk")
    assert re.fullmatch(r"tsk_[0-9a-hjkmnp-tv-z]{26}", first)
    assert first < second
    assert len({new_id("evt") for _ in range(1000)}) == 1000


def test_new_id_is_the_base32_of_its_millisecond_and_80_random_bits() -> None:
    before = int(time.time() * 1000)
    identifier = new_id("evt")
    after = int(time.time() * 1000)
    digits = identifier.removeprefix("evt_")
    value = sum(ALPHABET.index(c) * 32**i for i, c in enumerate(reversed(digits)))
    assert base32(value) == digits
    assert before <= value >> 80 <= after
    # The random part varies from one id to the next, the time part not within a millisecond.
    randoms = {new_id("evt")[-16:] for _ in range(100)}
    assert len(randoms) == 100
