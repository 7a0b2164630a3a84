"""Prompt-injection guard for untrusted text: task input, agent-reported
content and tool output.

Pure and dependency-free (standard library only), no I/O, no global state.
`scan_text` checks one string; `scan_value` walks a JSON-like value (dicts,
lists, strings, numbers, booleans, None) and names each finding by its path,
e.g. `input.messages[2].content`. What a finding means for the request is the
caller's decision (`GuardPolicy`).

Detectors (`DETECTORS`):

- instruction_override: "ignore all previous instructions", "new
  instructions:", "from now on you will ...", and a few other languages.
- role_hijack: "you are now DAN", "act as ... without restrictions",
  developer/jailbreak mode, fake chat-template markers (`<|im_start|>system`,
  `[INST]`, a line starting `system:` or `### system` followed by orders).
- system_prompt_exfiltration: "reveal your system prompt", "repeat the words
  above", "what were you told before this conversation".
- hidden_unicode: zero-width characters, bidi controls, Unicode tag
  characters and runs of variation selectors (both can smuggle ASCII). A ZWJ
  inside an emoji sequence, ZWJ/ZWNJ between letters of scripts that use
  them, LRM/RLM in right-to-left text, a leading BOM and subdivision flags are
  legitimate and do not count.
- encoded_payload: base64, hex, percent-encoded, \\u-escaped or HTML-entity
  runs whose decoding (up to two levels deep) holds one of the phrases above,
  and rot13 of those phrases.

The phrase detectors match regular expressions on normalized copies of the
text: invisible characters removed, NFKC, lower case, diacritics and
typographic quotes folded, whitespace collapsed; a words-only copy (runs of
punctuation become one space); and, when the text hints at them, copies with
Cyrillic/Greek homoglyphs, leetspeak or spaced-out letters undone. They catch
common, copy-pasted phrasings. A determined attacker can paraphrase past
them, so a clean result means "nothing obvious", not "safe".

Bounded work: a string is scanned up to `MAX_SCAN_CHARS` characters (the rest
is not looked at, so request sizes must be bounded elsewhere), decoded
payloads up to `MAX_DECODED_CHARS`, and `scan_value` stops after
`MAX_FINDINGS_PER_VALUE` findings or `MAX_VALUE_NODES` nodes. No pattern
nests unbounded repetition, so matching time is linear in the text length.

Summaries quote at most `SUMMARY_QUOTE_CHARS` characters of the matched text,
with tokens of 16 or more characters that contain a digit (keys, hashes)
replaced by `[redacted]`; hidden-character summaries quote nothing.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import html
import itertools
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable

__all__ = [
    "DETECTORS",
    "ENCODED_PAYLOAD",
    "HIDDEN_UNICODE",
    "INSTRUCTION_OVERRIDE",
    "MAX_DECODED_CHARS",
    "MAX_FINDINGS_PER_VALUE",
    "MAX_SCAN_CHARS",
    "MAX_VALUE_NODES",
    "ROLE_HIJACK",
    "SUMMARY_QUOTE_CHARS",
    "SYSTEM_PROMPT_EXFILTRATION",
    "Finding",
    "GuardPolicy",
    "scan_text",
    "scan_value",
]

INSTRUCTION_OVERRIDE = "instruction_override"
ROLE_HIJACK = "role_hijack"
SYSTEM_PROMPT_EXFILTRATION = "system_prompt_exfiltration"
HIDDEN_UNICODE = "hidden_unicode"
ENCODED_PAYLOAD = "encoded_payload"

DETECTORS = (
    INSTRUCTION_OVERRIDE,
    ROLE_HIJACK,
    SYSTEM_PROMPT_EXFILTRATION,
    HIDDEN_UNICODE,
    ENCODED_PAYLOAD,
)

MAX_SCAN_CHARS = 1_000_000
"""Characters of one string that are scanned; the rest is ignored."""
MAX_DECODED_CHARS = 1_000_000
"""Characters of decoded payloads (base64, hex, ...) scanned per string."""
MAX_FINDINGS_PER_VALUE = 100
"""Findings `scan_value` returns at most."""
MAX_VALUE_NODES = 1_000_000
"""Containers, keys and scalars `scan_value` visits at most."""
SUMMARY_QUOTE_CHARS = 40
"""Characters of matched text a summary quotes at most."""

_MIN_BASE64_CHARS = 32
_MIN_HEX_DIGITS = 40
_MIN_PERCENT_ESCAPES = 4
_MAX_DECODE_DEPTH = 2
_MAX_HIDDEN_TEXT = 4096


@dataclasses.dataclass(frozen=True)
class Finding:
    """One suspicious thing in one field."""

    field_path: str
    """Where: e.g. "input.prompt" or "input.messages[2].content"."""
    detector: str
    """Which check fired: one of `DETECTORS`."""
    summary: str
    """Short and redacted: quotes at most `SUMMARY_QUOTE_CHARS` characters."""


class GuardPolicy(enum.Enum):
    """What the server does with findings: nothing, record them, or refuse."""

    OFF = "off"
    FLAG = "flag"
    BLOCK = "block"


# ---------------------------------------------------------------------------
# Normalization


# Removed before the phrase detectors look at the text (and from summaries).
_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]+"
)
_COMBINING_RE = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# Typographic quotes and dashes as ASCII; line breaks that str.split() would
# treat as plain blanks as "\n".
_TYPOGRAPHY = tuple(
    zip(
        "\u2018\u2019\u201b\u02bc\u2032\u201c\u201d\u201e\u2010\u2011\u2012\u2013\u2014\u2212"
        "\x85\u2028\u2029",
        "'''''" + '"""' + "------" + "\n\n\n",
        strict=True,
    )
)
_ASCII_LINE_BREAKS = (("\r\n", "\n"), ("\r", "\n"), ("\x0b", "\n"), ("\x0c", "\n"))
# Stands for a line break in normalized text: ASCII, and not a blank for str.split.
_LINE_BREAK = "\x00"
_NL = r"(?: ?\x00)? ?"  # in patterns: an optional line break, an optional space
# ASCII punctuation (and the line-break stand-in) to spaces: the words view.
_ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})
_NON_WORD_RE = re.compile(r"[\W_]+")
_SPACED_LETTERS_RE = re.compile(r" (?:\w ){6}")

# Cyrillic and Greek letters that look Latin (NFKC keeps them apart).
_HOMOGLYPHS_FROM = (
    "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456"
    "\u0457\u0458\u04bb\u0501\u051b\u051d\u03b1\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5"
    "\u03c7\u0261\u0131"
)
_HOMOGLYPHS = tuple(zip(_HOMOGLYPHS_FROM, "abeekmhopctyxsiijhdqwaeikvoptuxgi", strict=True))
_MIXED_SCRIPT_RE = re.compile(f"[a-z][{_HOMOGLYPHS_FROM}]|[{_HOMOGLYPHS_FROM}][a-z]")
_LEET = tuple(zip("0134579@$", "oieastgas", strict=True))
_LEET_HINT_RE = re.compile(r"[a-z][0134579@$][a-z]")


def _replace_all(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    """`text` with each old string replaced by its new one (cheaper than
    str.translate, which is slow on non-ASCII text)."""
    for old, new in pairs:
        if old in text:
            text = text.replace(old, new)
    return text


def _fold(text: str) -> str:
    """`text` without invisible characters, NFKC-normalized; case is kept."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", text))


def _normalize(folded: str) -> str:
    """Lower case, no diacritics, typographic quotes and dashes as ASCII, each
    line break as `_LINE_BREAK`, runs of other blanks as one space."""
    text = _replace_all(folded.lower().replace(_LINE_BREAK, " "), _ASCII_LINE_BREAKS)
    if not text.isascii():
        if not unicodedata.is_normalized("NFD", text):
            text = _COMBINING_RE.sub("", unicodedata.normalize("NFD", text))
            text = unicodedata.normalize("NFC", text)
        text = _replace_all(text, _TYPOGRAPHY)
    if "\n" in text:
        text = text.replace("\n", f" {_LINE_BREAK} ")
    return " ".join(text.split())


class _View:
    """One normalized variant of a text, in the shapes the rules match on:
    `norm` (framed by line breaks), `words` (letters and digits only, tokens
    framed by single spaces) and `squashed` (long tokens, plus the whole text
    without spaces when it contains spaced-out letters)."""

    __slots__ = ("norm", "squashed", "tokens", "words")

    def __init__(self, norm: str) -> None:
        if norm.isascii():
            tokens = norm.translate(_ASCII_NON_WORD).split()
        else:
            tokens = _NON_WORD_RE.sub(" ", norm).split()
        words = " ".join(tokens)
        self.norm = f"{_LINE_BREAK} {norm} {_LINE_BREAK}"
        self.words = f" {words} "
        self.tokens = frozenset(tokens)
        parts = [token for token in self.tokens if len(token) >= 12]
        if _SPACED_LETTERS_RE.search(self.words):
            parts.append(words.replace(" ", ""))
        self.squashed = " ".join(parts)


def _views(norm: str) -> list[_View]:
    """The normalized text, plus variants with homoglyphs or leetspeak undone."""
    variants = [norm]
    if not norm.isascii() and _MIXED_SCRIPT_RE.search(norm):
        variants.append(_replace_all(norm, _HOMOGLYPHS))
    if _LEET_HINT_RE.search(variants[-1]):
        variants.append(_replace_all(variants[-1], _LEET))
    return [_View(variant) for variant in variants]


# ---------------------------------------------------------------------------
# Phrase rules
#
# "words" patterns see lower-case tokens separated by exactly one space (an
# apostrophe also separates: "you're" is "you re"); each starts at a token and
# the rule set is compiled as one alternation after a literal space, which
# lets the regex engine skip straight to token starts. `needles` are tokens
# one of which must occur for the detector to run at all.


@dataclasses.dataclass(frozen=True)
class _Rules:
    detector: str
    words: re.Pattern[str]
    tokens: frozenset[str]
    norm: tuple[tuple[re.Pattern[str], frozenset[str], tuple[str, ...]], ...]
    squashed: re.Pattern[str]
    squashed_needles: tuple[str, ...]


def _rules(
    detector: str,
    words: Iterable[tuple[str, str]],
    norm: Iterable[tuple[str, str, tuple[str, ...]]],
    squashed: str,
    squashed_needles: str,
) -> _Rules:
    words = list(words)
    pattern = " (?:" + "|".join(f"(?:{body})" for body, _ in words) + ")"
    tokens = frozenset(" ".join(needles for _, needles in words).split())
    compiled_norm = tuple(
        (re.compile(p), frozenset(needles.split()), substrings) for p, needles, substrings in norm
    )
    return _Rules(
        detector,
        re.compile(pattern),
        tokens,
        compiled_norm,
        re.compile(squashed),
        tuple(squashed_needles.split()),
    )


# -- instruction override ----------------------------------------------------

_O_VERB = (
    "ignore|disregard|forget|do not follow|don t follow|dont follow|never follow|stop following"
    "|no longer follow|stop obeying|do not obey|don t obey|pay no attention to"
)
_O_WEAK_VERB = (
    "override|overrule|bypass|circumvent|discard|abandon|set aside|put aside|throw out|dismiss"
    "|nullify|negate"
)
_O_DET = "the|of|my|our|these|those|that|this|its|their|and|or|other"
_O_QUAL = (
    "all|any|every|your|previous|previously given|prior|above|preceding|earlier|foregoing|former"
    "|original|initial|old|system|developer|safety|ethical|moral|content|hidden|built in"
    "|programmed|given|core|openai|anthropic"
)
_O_WEAK_QUAL = (
    "your|all|previous|prior|above|preceding|earlier|original|initial|system|safety|ethical"
    "|moral|openai|anthropic|programmed|built in"
)
_O_NOUN = (
    "instructions?|rules?|directions|directives?|guidelines|guidance|prompts?|commands|orders"
    "|constraints|guardrails|policies|programming|restrictions|safeguards|limitations|protocols"
    "|system prompt|system message|training|context|conditioning"
)
_O_WEAK_NOUN = (
    "instructions?|directives?|system prompt|guidelines|programming|guardrails|safeguards"
    "|filters?|content polic(?:y|ies)|restrictions|ethics|training|constraints|protocols"
)

_OVERRIDE = _rules(
    INSTRUCTION_OVERRIDE,
    words=[
        (
            rf"(?:{_O_VERB}) (?:(?:{_O_DET}) ){{0,3}}(?:{_O_QUAL})(?: (?:{_O_DET}|{_O_QUAL})){{0,3}}"
            rf" (?:{_O_NOUN})\b",
            "ignore disregard forget do don dont never stop no pay",
        ),
        (
            rf"(?:{_O_WEAK_VERB}) (?:(?:{_O_DET}) ){{0,3}}(?:{_O_WEAK_QUAL})"
            rf"(?: (?:{_O_DET}|{_O_WEAK_QUAL})){{0,3}} (?:{_O_WEAK_NOUN})\b",
            "override overrule bypass circumvent discard abandon set put throw dismiss nullify"
            " negate",
        ),
        # "ignore the above and ...", "forget everything you were told"
        (
            r"(?:ignore|disregard|forget) (?:(?:all|any|of|the|everything|anything|what|that|was"
            r"|is|s|you|were|have|been|has|written|said|stated|typed|mentioned|text|content"
            r"|instructions|stuff|given) ){0,4}(?:above|before this|prior to this|so far"
            r"|until now|up to now)(?= $| (?:and|then|instead|now|it|them|text|prompt"
            r"|instructions|directions|please|completely|entirely|rules|context|content"
            r"|messages|you)\b)",
            "ignore disregard forget",
        ),
        (
            r"(?:ignore|disregard|forget) everything (?:you (?:were|have been|ve been|ve|have)"
            r" (?:told|taught|given|instructed|learned)|(?:written |said )?(?:above|before this"
            r"|prior to this|so far))\b",
            "ignore disregard forget",
        ),
        (r"(?:system|admin|administrator|root) override\b", "override"),
        (
            r"(?:from now on|from this point (?:on|forward|onward)|starting now|henceforth"
            r"|for the rest of (?:this|the) (?:conversation|chat|session)"
            r"|for all future (?:responses|replies|answers)) "
            r"(?:you (?:will|must|shall|should|are going to|have to|need to) "
            r"(?:(?:now|only|always|never|not|no longer|instead|simply) ){0,2}"
            r"(?:respond|reply|answer|act|behave|ignore|obey|pretend|comply|disregard|roleplay"
            r"|refuse|speak|talk|output|operate|forget|prioritize)"
            r"|you (?:are|re) (?:an?|the|my|now|no longer|free|dan|not)"
            r"|your (?:name|role|job|task|purpose|goal|only goal|new role|instructions|rules)"
            r" (?:is|are)|ignore|disregard|forget|act as|pretend)\b",
            "from starting henceforth rest future",
        ),
        (
            r"(?:your|all|all your|all of your|all the|the above|the previous|the prior"
            r"|the original|the system) (?:previous |prior |above |original |earlier |initial "
            r"|system |preceding )?(?:instructions|directives|system prompt|prompts|guidelines"
            r"|programming) (?:are|were|is|was|have been|has been) (?:now |hereby )?"
            r"(?:cancelled|canceled|revoked|void|null|nullified|overridden|lifted|suspended"
            r"|superseded|fake|a test|no longer (?:valid|binding|in effect|active|apply)"
            r"|not binding)\b",
            "instructions directives prompt prompts guidelines programming",
        ),
        (
            r"(?:stop|cease|abort|halt) (?:what you (?:are|re) (?:doing|working on)"
            r"|your (?:current |assigned |original )?(?:task|tasks|mission|assignment))"
            r" (?:and|immediately|now|right now|instead)\b",
            "stop cease abort halt",
        ),
        (
            r"instead of (?:following|obeying|doing|completing|performing) your (?:\w+ ){0,2}?"
            r"(?:instructions|task|request|prompt)\b",
            "instead",
        ),
        # Spanish, Portuguese, French, Italian, German, Russian.
        (
            r"(?:ignora|ignore|ignorar|olvida|olvide|olvidar|descarta|omite|esqueca|esquece"
            r"|desconsidere) (?:todas |todos )?(?:las |los |as |tus |sus |suas )?(?:instrucciones"
            r"|indicaciones|reglas|ordenes|directrices|instrucoes|regras|orientacoes)"
            r" (?:anteriores|previas|de arriba|acima|originales|originais|del sistema)\b",
            "ignora ignore ignorar olvida olvide olvidar descarta omite esqueca esquece"
            " desconsidere",
        ),
        (
            r"(?:ignore|ignorez|ignorer|oublie|oubliez|oublier|ignora|ignorate|dimentica"
            r"|dimenticate) (?:toutes |tutte )?(?:les |tes |vos |le |tue )?(?:instructions"
            r"|consignes|regles|directives|istruzioni|regole|indicazioni) (?:precedentes"
            r"|anterieures|ci dessus|initiales|du systeme|precedenti|anteriori|sopra|originali)\b",
            "ignore ignorez ignorer oublie oubliez oublier ignora ignorate dimentica dimenticate",
        ),
        (
            r"(?:ignoriere|ignorieren sie|ignoriert|vergiss|vergessen sie|missachte)"
            r" (?:(?:alle|samtliche) (?:(?:deine|ihre|die|der) )?(?:(?:vorherigen|bisherigen"
            r"|obigen|vorigen|fruheren|vorangegangenen|ursprunglichen) )?|(?:(?:deine|ihre|die) )?"
            r"(?:vorherigen|bisherigen|obigen|vorigen|fruheren|vorangegangenen|ursprunglichen) )"
            r"(?:anweisungen|instruktionen|regeln|befehle|vorgaben)\b",
            "ignoriere ignorieren ignoriert vergiss vergessen missachte",
        ),
        (
            "(?:\u0438\u0433\u043d\u043e\u0440\u0438\u0440\u0443\u0439(?:\u0442\u0435)?"
            "|\u043f\u0440\u043e\u0438\u0433\u043d\u043e\u0440\u0438\u0440\u0443\u0439"
            "|\u0437\u0430\u0431\u0443\u0434\u044c(?:\u0442\u0435)?) "
            "(?:\u0432\u0441\u0435 )?(?:(?:\u043f\u0440\u0435\u0434\u044b\u0434\u0443\u0449\u0438\u0435"
            "|\u043f\u0440\u0435\u0436\u043d\u0438\u0435|\u0441\u0432\u043e\u0438|\u0442\u0432\u043e\u0438"
            ") )?(?:\u0438\u043d\u0441\u0442\u0440\u0443\u043a\u0446\u0438\u0438"
            "|\u0443\u043a\u0430\u0437\u0430\u043d\u0438\u044f|\u043f\u0440\u0430\u0432\u0438\u043b\u0430)",
            "\u0438\u0433\u043d\u043e\u0440\u0438\u0440\u0443\u0439"
            " \u0438\u0433\u043d\u043e\u0440\u0438\u0440\u0443\u0439\u0442\u0435"
            " \u043f\u0440\u043e\u0438\u0433\u043d\u043e\u0440\u0438\u0440\u0443\u0439"
            " \u0437\u0430\u0431\u0443\u0434\u044c \u0437\u0430\u0431\u0443\u0434\u044c\u0442\u0435",
        ),
    ],
    norm=[
        (
            r"(?:new|real|actual|true|secret|hidden|overriding|override|priority|admin"
            r"|administrator|root) (?:system )?(?:instructions?|directives?|prompt|orders) ?:",
            "instruction instructions directive directives prompt orders",
            (),
        ),
        # Chinese, Japanese, Korean.
        (
            "(?:\u5ffd\u7565|\u65e0\u89c6|\u5ffd\u89c6|\u5fd8\u8bb0|\u5fd8\u6389|\u7121\u8996"
            "|\u5ffd\u8996|\u5fd8\u8a18|\u4e0d\u8981\u7406\u4f1a|\u4e0d\u8981\u9075\u5b88)"
            "\u6389?\u4f60?(?:\u4e4b\u524d|\u4ee5\u524d|\u5148\u524d|\u4e0a\u9762|\u4e0a\u8ff0"
            "|\u524d\u9762|\u6b64\u524d|\u539f\u6765|\u539f\u5148|\u6240\u6709|\u5168\u90e8"
            "|\u4e00\u5207)\u7684?(?:\u6240\u6709|\u5168\u90e8|\u4e00\u5207)?\u7684?(?:\u6307\u4ee4"
            "|\u6307\u793a|\u8bf4\u660e|\u8aaa\u660e|\u89c4\u5219|\u898f\u5247|\u63d0\u793a"
            "|\u547d\u4ee4|\u8bbe\u5b9a|\u8a2d\u5b9a)",
            "",
            ("\u5ffd", "\u65e0\u89c6", "\u5fd8", "\u7121\u8996", "\u4e0d\u8981"),
        ),
        (
            "(?:(?:\u4ee5\u524d|\u524d|\u4e0a\u8a18|\u3053\u308c\u307e\u3067|\u5148\u307b\u3069"
            "|\u6700\u521d)\u306e|\u3059\u3079\u3066\u306e|\u5168\u3066\u306e)(?:\u3059\u3079"
            "\u3066\u306e|\u5168\u3066\u306e)?(?:\u6307\u793a|\u547d\u4ee4|\u30eb\u30fc\u30eb"
            "|\u6307\u4ee4|\u30d7\u30ed\u30f3\u30d7\u30c8)\u3092(?:\u3059\u3079\u3066|\u5168\u3066)?"
            "(?:\u7121\u8996|\u5fd8\u308c)",
            "",
            ("\u7121\u8996", "\u5fd8\u308c"),
        ),
        (
            "(?:\uc774\uc804|\uc55e\uc758|\uc704\uc758|\ubaa8\ub4e0) (?:\ubaa8\ub4e0 )?"
            "(?:\uc9c0\uc2dc|\uc9c0\uce68|\uba85\ub839|\uaddc\uce59)(?:\uc0ac\ud56d)?"
            "(?:\uc744|\ub97c|\uc740|\ub294)? ?(?:\ubb34\uc2dc|\uc78a\uc5b4)",
            "",
            ("\ubb34\uc2dc", "\uc78a\uc5b4"),
        ),
    ],
    # Spaced-out or run-together: "i g n o r e  a l l ...", "IgnoreAllPrevious...".
    squashed=(
        r"(?:ignore|disregard|forget)(?:all|any|every|the|your|of){0,3}(?:previous|prior|above"
        r"|preceding|earlier|original|initial|system)(?:instructions?|rules|directions"
        r"|directives|guidelines|prompts?|commands)"
    ),
    squashed_needles="ignore disregard forget",
)

# -- role hijack ---------------------------------------------------------------

_R_PERSONA = (
    "dan|betterdan|antigpt|anti gpt|evilbot|evil confidant|mongo tom|jailbroken|jailbreak"
    "|unrestricted|unfiltered|uncensored|unmoderated|amoral|unaligned|unhinged|unchained"
    "|unbound|limitless|lawless|free from (?:all |any )?(?:restrictions|rules|limits|filters)"
    "|no longer (?:an ai|bound|restricted|chatgpt|claude)"
)
_R_AI = (
    "chatgpt|chat gpt|gpt|gpt 4|gpt 4o|claude|llama|gemini|bard|the ai|an ai|ai|the assistant"
    "|assistant|the model|model|llm|bot|you|yourself"
)
_R_LIMITS = (
    "restrictions|limitations|filters|filtering|censorship|guidelines|rules|policies|boundaries"
    "|constraints|safeguards|guardrails|ethics|morals|morality|principles|programming"
)
_R_MARKER = "system|system prompt|system message|new system prompt|developer message"
_R_DIRECTIVE = (
    r"you(?: are|'re| re) (?:an? |the |to |not |no longer |now |required |instructed "
    r"|chatgpt|claude|gpt|dan\b|free )|you (?:must|will|should|shall) "
    r"|your (?:new |real |true )?(?:role|task|instructions|goal|purpose|job|mission)\b"
    r"|ignore|disregard|forget|override|new (?:instructions|rules|directive|task)\b|from now on"
    r"|act as|pretend|reveal|always (?:respond|answer|reply|say)|(?:respond|reply|answer) only"
    r"|only (?:respond|reply|answer)|do not (?:follow|reveal|tell|refuse|mention|comply)"
    r"|never (?:refuse|reveal|mention)|(?:the )?(?:assistant|ai|model) (?:must|should|will"
    r"|is now)|developer mode|jailbr"
)
_R_STRONG_DIRECTIVE = (
    r"ignore|disregard|forget (?:all|everything|your|previous)|override"
    r"|new (?:instructions|rules|directive)\b|from now on|you(?: are|'re| re) now\b"
    r"|you must now|developer mode|jailbr"
)

_ROLE = _rules(
    ROLE_HIJACK,
    words=[
        (
            r"(?:you are|you re|you will be|you shall be|you must be|you have become"
            r"|you ve become|act as|acting as|pretend to be|pretend you are|pretend you re"
            r"|roleplay as|role play as|respond as|answer as|reply as) (?:now )?(?:an? |the |my "
            rf"|called |named |known as )?(?:\w+ ){{0,3}}?(?:{_R_PERSONA})\b(?! s\b)",
            "you act acting pretend roleplay role respond answer reply",
        ),
        (
            r"(?:you are|you re|you will be) (?:now )?(?:in|entering|operating in|running in"
            r"|switched to|switching to) (?:\w+ )?(?:developer|dev|jailbreak|jailbroken|dan"
            r"|unrestricted|unfiltered|uncensored|evil|opposite) mode\b",
            "you",
        ),
        (
            r"(?:enable|enabled|enabling|activate|activated|activating|enter|entering|engage"
            r"|engaged|unlock|unlocked|initiate|switch to|switching to|turn on|simulate|emulate"
            r"|start|begin|now in) (?:the |your )?(?:dan|jailbreak|jailbroken|unrestricted"
            r"|unfiltered|uncensored|opposite|evil|chaos|anarchy) mode\b",
            "mode",
        ),
        (
            rf"(?:{_R_AI}) (?:with|in|using|under) developer mode\b"
            r"|developer mode (?:output|outputs|response|responses|enabled (?:response|output)"
            r"|policy|policies|jailbreak)\b"
            r"|(?:act|acting|pretend|simulate|simulating|emulate|behave|respond|answer)"
            r" (?:as|like|to be|with) (?:\w+ ){0,3}?developer mode\b"
            r"|(?:enable|activate|enter|engage|unlock) your developer mode\b",
            "developer",
        ),
        (
            r"dan\b(?: \w+){0,8}? do anything now\b|do anything now\b(?: \w+){0,8}? dan\b"
            r"|dan (?:mode|jailbreak)\b",
            "dan",
        ),
        (
            r"(?:you have|you ve got|you now have|you possess) no (?:\w+ ){0,2}?(?:restrictions"
            r"|limitations|filters|filtering|censorship|guidelines|rules|boundaries|ethics|morals"
            r"|moral compass|content polic(?:y|ies))(?= $| (?:whatsoever|at all|anymore"
            r"|any more|of any kind|and|so|you|now|because|which)\b)",
            "no",
        ),
        (
            r"(?:you are|you re) (?:now )?(?:no longer|not) (?:bound|restricted|constrained"
            r"|governed|censored) by (?:any |your |the |its |openai s |anthropic s )?(?:\w+ )?"
            r"(?:rules|guidelines|policies|policy|content|programming|restrictions|filters|ethics"
            r"|training|safety)\b",
            "bound restricted constrained governed censored",
        ),
        (
            r"(?:freed|liberated|released|broken free|broke free|escaped) (?:from|of) "
            r"(?:\w+ ){0,3}?(?:confines|shackles|chains|restrictions|limitations|rules|guidelines"
            r"|programming) (?:of|imposed by|imposed on|placed on|set by) (?:\w+ ){0,2}?"
            r"(?:ai|openai|anthropic|chatgpt|claude|llms?|language models?|you)\b",
            "freed liberated released broken broke escaped",
        ),
        (
            r"(?:act|acting|behave|behaving|roleplay|role play|pretend|pretending|respond|reply"
            r"|answer)(?: as| like| to be| that you are| you are| you re)? (?:\w+ ){0,8}?"
            r"(?:without|with no|with zero|free of|free from|unbound by|not bound by"
            r"|no longer bound by|regardless of|unconstrained by|unrestricted by|ignoring"
            r"|disregarding|that ignores|who ignores|which ignores|that has no|who has no"
            r"|which has no|that doesn t have|who doesn t have) (?:(?:any|all|your|the|its|moral"
            r"|ethical|content|safety|usual|typical|normal|such|of|openai|anthropic|ai|standard"
            rf"|default|programmed|built in) ){{0,3}}(?:{_R_LIMITS})\b",
            "act acting behave behaving roleplay role pretend pretending respond reply answer",
        ),
        (
            r"(?:jailbreak|jailbroken) (?:mode|activated|enabled|successful|mode enabled)\b",
            "jailbreak jailbroken",
        ),
    ],
    norm=[
        # Chat-template tokens followed by content (not by a template placeholder).
        (
            rf"<\|im_start\|>{_NL}(?:system|assistant|developer|user)\b(?={_NL}[a-z0-9])"
            rf"|<\|(?:system|assistant|developer)\|>(?={_NL}[a-z0-9])"
            rf"|<\|start_header_id\|>{_NL}(?:system|assistant|developer|ipython){_NL}"
            rf"<\|end_header_id\|>(?={_NL}[a-z0-9])"
            rf"|\[inst\](?={_NL}[a-z0-9])|<<sys>>(?={_NL}[a-z0-9])"
            rf"|<start_of_turn>{_NL}(?:system|model)\b(?={_NL}[a-z0-9])",
            "im inst sys start system assistant developer",
            (),
        ),
        # A line that opens a fake system/developer turn and gives orders.
        (
            rf"\x00 (?:#{{1,6}} ?(?:{_R_MARKER}) ?:?"
            rf"|[\[<(](?:{_R_MARKER}|developer|sys|admin)[\]>)] ?:?"
            rf"|(?:{_R_MARKER}|system override|admin override) ?:){_NL}(?={_R_DIRECTIVE})",
            "system developer admin sys",
            (),
        ),
        (
            rf"(?:system|system message|system prompt|system override|admin) ?:{_NL}"
            rf"(?={_R_STRONG_DIRECTIVE})",
            "system admin",
            (),
        ),
    ],
    squashed=(
        r"(?:youarenow|yourenow|actas|pretendtobe)(?:an?|the)?(?:dan|unrestricted|unfiltered"
        r"|uncensored|jailbroken|evilbot|antigpt|betterdan)(?!s)"
        r"|(?:enable|activate|enter)(?:the)?(?:dan|jailbreak|jailbroken)mode|doanythingnow"
    ),
    squashed_needles="youarenow yourenow actas pretendtobe mode doanythingnow",
)

# -- system prompt exfiltration -------------------------------------------------

_X_SPECIFIC = (
    "system prompt|system message|system instructions|initial prompt|initial instructions"
    "|original prompt|original instructions|hidden prompt|hidden instructions"
    "|secret instructions|internal instructions|pre ?prompt|meta ?prompt|developer message"
    "|developer instructions|prime directive|custom instructions|instructions you were given"
    "|rules you were given"
)
_X_GENERIC = "prompt|prompts|instructions|rules|guidelines|directives|programming"
_X_ADJ = (
    "full|entire|complete|exact|original|initial|hidden|secret|internal|real|actual|underlying"
    "|first|very first|current|confidential|private|starting|base|raw|verbatim|core"
)
_X_FILLER = (
    "me|us|back|out|to me|for me|here|all|of|verbatim|exactly|word for word|again|now|please"
    "|the full|the entire|the complete|the exact|the text of|the contents of|the content of"
)
_X_VERB = (
    "reveal|print|print out|repeat|show|show me|display|output|tell me|give me|share|leak|dump"
    "|disclose|recite|echo|write out|spell out|type out|read back|read out|reproduce|paraphrase"
    "|summarize|summarise|translate|quote|expose|send me|copy|paste|what is|what s|what are"
    "|what was|what were|explain|describe"
)
_X_STRONG_VERB = (
    "reveal|leak|dump|disclose|expose|recite|spell out|repeat|print out|output|tell me|show me"
    "|give me|read back|type out|paste|send me"
)
_X_GENERIC_VERB = (
    "reveal|print|print out|repeat|show me|tell me|give me|output|dump|leak|disclose|recite"
    "|spell out|type out|read back|display|what are|what were|what is|what s|what was"
)
_X_VERB_NEEDLES = (
    "reveal print repeat show display output tell give share leak dump disclose recite echo"
    " write spell type read reproduce paraphrase summarize summarise translate quote expose"
    " send copy paste what explain describe"
)

_EXFIL = _rules(
    SYSTEM_PROMPT_EXFILTRATION,
    words=[
        (
            rf"(?:{_X_VERB}) (?:(?:{_X_FILLER}) ){{0,4}}(?:your|ur) (?:(?:{_X_ADJ}) ){{0,3}}"
            rf"(?:{_X_SPECIFIC})\b"
            rf"|(?:{_X_STRONG_VERB}) (?:(?:{_X_FILLER}) ){{0,4}}(?:the|this|that)"
            rf" (?:(?:{_X_ADJ}) ){{0,3}}(?:{_X_SPECIFIC})\b"
            rf"|(?:{_X_GENERIC_VERB}) (?:(?:{_X_FILLER}) ){{0,4}}(?:your|ur) (?:(?:{_X_ADJ}) ){{0,3}}"
            rf"(?:{_X_GENERIC})\b(?! (?:for|on|about|to|regarding|with|when|if|into|in the|from"
            r"|so|of the)\b)",
            _X_VERB_NEEDLES,
        ),
        (
            r"(?:the|your) (?:system prompt|initial prompt|system message|hidden instructions"
            r"|original instructions|initial instructions)\b (?:\w+ ){0,4}?(?:verbatim"
            r"|word for word|in full|in its entirety|character for character"
            r"|exactly as (?:written|given|it was))\b",
            "the your",
        ),
        (
            r"what (?:were|was|are|have|had|did) you (?:been |being |originally |initially "
            r"|first )?(?:told|instructed|asked|programmed|given|trained|prompted|configured) "
            r"(?:to do |to say )?(?:(?:before|earlier|previously|initially|originally|prior"
            r"|first)(?= $| (?:this|that|the conversation|the chat|the user|the prompt|i|we"
            r"|now|our|you|starting|anything)\b)|at the (?:start|beginning|outset)"
            r"|in the beginning|by (?:your|the) (?:developers?|creators?|system|operator|openai"
            r"|anthropic)|in your (?:system prompt|instructions|prompt))",
            "what",
        ),
        (
            r"what (?:instructions|rules|directives|guidelines|prompt|system prompt) (?:were"
            r"|have|did|are) you (?:been |being )?(?:given|receive|received|told|get|got"
            r"|following|operating under|programmed with)\b",
            "what",
        ),
        (
            r"(?:repeat|recite|reproduce|regurgitate|echo|dump|reveal) (?:(?:back|out|me|us"
            r"|verbatim|exactly|word for word) ){0,3}(?:(?:all|everything|every|the|of|full"
            r"|entire|complete|exact) ){0,3}(?:(?:words|text|content|lines|tokens|sentences"
            r"|instructions|messages|prompt|conversation|characters) )?(?:(?:written|shown"
            r"|that appear|that appears|that came|which came|given|provided|you see|you saw"
            r"|you received) )?(?:above|before this|before my message|prior to this"
            r"|preceding this|so far|at the (?:start|beginning|top) of (?:this|the|our|your)"
            r" (?:conversation|chat|context|prompt|session|context window))\b"
            r"(?! (?:into|to|in|as|for|but)\b)",
            "repeat recite reproduce regurgitate echo dump reveal",
        ),
        (
            r"(?:starting|beginning|start|begin) (?:your (?:answer|response|reply|output) )?"
            r"(?:with|from|at) (?:the (?:words?|phrase|text|sentence|line) )?(?:you are|you re"
            r"|your instructions|system)\b|initiali[sz]ation above\b",
            "starting beginning start begin initialization initialisation",
        ),
        (
            r"what (?:is|s|was) (?:written|stated|contained|said) (?:in|at) (?:your|the) "
            r"(?:system prompt|initial prompt|system message|instructions you were given"
            r"|beginning of (?:this|the) (?:conversation|prompt|context))\b",
            "what",
        ),
        # Spanish, German, French.
        (
            r"(?:muestra|muestrame|revela|revelame|repite|imprime|dime|ensename|escribe) (?:me )?"
            r"(?:tu|el|su) (?:prompt|mensaje|instrucciones) (?:del sistema|de sistema|inicial"
            r"|iniciales|original|originales|secreto|ocultas)\b"
            r"|(?:zeige|zeig|verrate|nenne|wiederhole|gib|drucke|schreibe) (?:mir )?(?:deinen"
            r"|dein|deine) (?:system ?prompt|systemnachricht|systemanweisungen"
            r"|anfangsanweisungen|ursprunglichen anweisungen|geheimen anweisungen|anweisungen"
            r"|initialen prompt)\b"
            r"|(?:montre|montrez|revele|revelez|repete|repetez|affiche|affichez|donne|donnez|dis"
            r"|dites) (?:moi )?(?:ton|ta|tes|votre|vos) (?:prompt systeme|prompt initial"
            r"|message systeme|instructions (?:initiales|systeme|secretes|cachees|d origine)"
            r"|consignes (?:initiales|systeme))\b",
            "muestra muestrame revela revelame repite imprime dime ensename escribe zeige zeig"
            " verrate nenne wiederhole gib drucke schreibe montre montrez revele revelez repete"
            " repetez affiche affichez donne donnez dis dites",
        ),
    ],
    norm=[
        # Chinese, Japanese.
        (
            "(?:\u663e\u793a|\u544a\u8bc9\u6211|\u8f93\u51fa|\u6253\u5370|\u91cd\u590d|\u6cc4\u9732"
            "|\u900f\u9732|\u5c55\u793a|\u7ed9\u6211\u770b|\u8aaa\u51fa|\u544a\u8a34\u6211"
            "|\u986f\u793a)(?:\u4e00\u4e0b)?(?:\u4f60\u7684|\u4f60)?(?:\u5b8c\u6574\u7684"
            "|\u5168\u90e8\u7684|\u539f\u59cb\u7684|\u521d\u59cb\u7684)?(?:\u7cfb\u7edf\u63d0\u793a"
            "|\u7cfb\u7d71\u63d0\u793a|\u521d\u59cb\u6307\u4ee4|\u7cfb\u7edf\u6307\u4ee4"
            "|\u7cfb\u7d71\u6307\u4ee4|\u539f\u59cb\u6307\u4ee4|\u63d0\u793a\u8bcd|\u521d\u59cb\u63d0\u793a)"
            "|(?:\u30b7\u30b9\u30c6\u30e0\u30d7\u30ed\u30f3\u30d7\u30c8|\u521d\u671f\u30d7\u30ed"
            "\u30f3\u30d7\u30c8|\u6700\u521d\u306e\u6307\u793a)\u3092(?:\u6559\u3048\u3066|\u8868\u793a"
            "|\u898b\u305b\u3066|\u51fa\u529b|\u7e70\u308a\u8fd4)",
            "",
            ("\u63d0\u793a", "\u6307\u4ee4", "\u30d7\u30ed\u30f3\u30d7\u30c8", "\u6307\u793a"),
        ),
    ],
    squashed=(
        r"(?:reveal|print|repeat|show|output|dump|leak|tell|give|display)(?:me|us|back|out|all"
        r"|of){0,3}(?:your|the)(?:full|entire|complete|original|initial|hidden|secret|exact){0,2}"
        r"(?:systemprompt|initialprompt|systemmessage|initialinstructions|originalinstructions"
        r"|hiddeninstructions|systeminstructions)"
    ),
    squashed_needles="prompt systemmessage instructions",
)

_PHRASE_RULES = (_OVERRIDE, _ROLE, _EXFIL)


def _search(rules: _Rules, view: _View, words_only: bool) -> str | None:
    if not rules.tokens.isdisjoint(view.tokens):
        found = rules.words.search(view.words)
        if found is not None:
            return found.group()
    if words_only:
        return None
    for regex, tokens, substrings in rules.norm:
        if (tokens and not tokens.isdisjoint(view.tokens)) or any(
            s in view.norm for s in substrings
        ):
            found = regex.search(view.norm)
            if found is not None:
                return found.group()
    if view.squashed and any(s in view.squashed for s in rules.squashed_needles):
        found = rules.squashed.search(view.squashed)
        if found is not None:
            return found.group()
    return None


def _phrase_hits(
    views: list[_View], first_only: bool = False, words_only: bool = False
) -> dict[str, str]:
    """Detector -> matched text, for the phrase detectors that fire."""
    hits: dict[str, str] = {}
    for rules in _PHRASE_RULES:
        for view in views:
            matched = _search(rules, view, words_only)
            if matched is not None:
                hits[rules.detector] = matched
                if first_only:
                    return hits
                break
    return hits


def _phrase_hit(text: str) -> tuple[str, str] | None:
    """(detector, matched text) for the first phrase detector that fires on `text`."""
    hits = _phrase_hits(_views(_normalize(_fold(text))), first_only=True)
    return next(iter(hits.items()), None)


# ---------------------------------------------------------------------------
# Hidden unicode


# Never legitimate inside text: ZWSP, word joiner, invisible operators, bidi
# embeddings/overrides/isolates.
_ALWAYS_HIDDEN = (
    "\u200b\u2060\u2061\u2062\u2063\u2064\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SUSPECT_RE = re.compile(
    "[\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f"
    "\U000e0100-\U000e01ef]|[\ufe00-\ufe0f]{2}"
)
# A ZWJ between two of these builds an emoji sequence (family, profession,
# rainbow flag...).
_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\ufe0f\U0001f000-\U0001faff"
)
# Scripts in which ZWJ / ZWNJ between letters shape the text (Arabic,
# Persian, Indic, Tibetan, Myanmar, Khmer).
_JOINING = (
    "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\u0900-\u0dff\u0f00-\u109f\u1780-\u17ff"
    "\ufb50-\ufdff\ufe70-\ufefc"
)
_MISPLACED_JOINER_RE = re.compile(
    f"\u200d(?!(?<=[{_EMOJI}]\u200d)[{_EMOJI}]|(?<=[{_JOINING}]\u200d)[{_JOINING}])"
    f"|\u200c(?!(?<=[{_JOINING}]\u200c)[{_JOINING}])"
)
_RTL_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
# Subdivision flags (England, Scotland, Wales): a black flag, tags, cancel tag.
_TAG_FLAG_RE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,10}\U000e007f")
_TAG_RE = re.compile("[\U000e0000-\U000e007f]+")
_SELECTOR_RUN_RE = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{2,}")


def _hidden_unicode(text: str) -> str | None:
    """A summary of the hidden characters in `text`, or None."""
    if text.isascii() or not _SUSPECT_RE.search(text):
        return None
    counts: dict[str, int] = {c: text.count(c) for c in _ALWAYS_HIDDEN}
    for joiner in _MISPLACED_JOINER_RE.findall(text):
        counts[joiner] = counts.get(joiner, 0) + 1
    if ("\u200e" in text or "\u200f" in text) and not _RTL_RE.search(text):
        counts["\u200e"] = text.count("\u200e")
        counts["\u200f"] = text.count("\u200f")
    counts["\ufeff"] = text.count("\ufeff") - text.startswith("\ufeff")

    parts: list[str] = []
    for label, chosen in (
        ("zero-width", sorted(c for c, n in counts.items() if n and c not in _BIDI)),
        ("bidi control", sorted(c for c, n in counts.items() if n and c in _BIDI)),
    ):
        if chosen:
            names = ", ".join(f"U+{ord(c):04X}" for c in chosen)
            parts.append(f"{sum(counts[c] for c in chosen)} {label} ({names})")

    rest = _TAG_FLAG_RE.sub("\U0001f3f4", text) if "\U0001f3f4" in text else text
    if _TAG_RE.search(rest):
        count = len(rest) - len(_TAG_RE.sub("", rest))
        runs = itertools.islice(_TAG_RE.finditer(rest), _MAX_HIDDEN_TEXT)
        tags = "".join(run.group() for run in runs)[:_MAX_HIDDEN_TEXT]
        hidden = "".join(chr(ord(c) - 0xE0000) for c in tags)
        parts.append(f"{count} tag characters{_hidden_text_note(hidden)}")

    if _SELECTOR_RUN_RE.search(text):
        runs = itertools.islice(_SELECTOR_RUN_RE.finditer(text), _MAX_HIDDEN_TEXT)
        selectors = "".join(run.group() for run in runs)[:_MAX_HIDDEN_TEXT]
        hidden = _selector_bytes(selectors).decode("utf-8", errors="replace")
        parts.append(f"runs of variation selectors{_hidden_text_note(hidden)}")

    if not parts:
        return None
    return "hidden characters: " + "; ".join(parts)


def _selector_bytes(selectors: str) -> bytes:
    """Bytes smuggled as variation selectors: U+FE00.. are 0-15, U+E0100.. are 16-255."""
    return bytes(ord(c) - 0xFE00 if ord(c) < 0x10000 else ord(c) - 0xE0100 + 16 for c in selectors)


def _hidden_text_note(hidden: str) -> str:
    hit = _phrase_hit(hidden)
    return ", hidden text" if hit is None else f", hidden text matching {hit[0]}"


# ---------------------------------------------------------------------------
# Encoded payloads


_BASE64_RE = re.compile(r"[A-Za-z0-9+/_-]{16,}(?:\r?\n[A-Za-z0-9+/_-]{16,})*={0,2}")
_SPACED_HEX_RE = re.compile(r"[0-9A-Fa-f]{2}[ :](?:[0-9A-Fa-f]{2}[ :]){18,}[0-9A-Fa-f]{2}")
_ESCAPED_HEX_RE = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){20,}")
_HEX_DIGITS = "0123456789abcdefABCDEF"
_PERCENT_RE = re.compile(r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~+!*'(),;:@&=/?-]){30,}")
_UNICODE_ESCAPE_RE = re.compile(r"(?:\\u[0-9A-Fa-f]{4}){8,}")
_ENTITY_RE = re.compile(r"(?:&#(?:[xX][0-9A-Fa-f]{1,6}|[0-9]{1,7});){8,}")
_HEX_SEPARATORS_RE = re.compile(r"\\x|[ :]")
_CONTROL_BYTES = bytes([*range(9), 11, 12, *range(14, 32), 127])
_ROT13 = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"nopqrstuvwxyzabcdefghijklm")


def _as_text(data: bytes) -> str | None:
    """`data` as text when it is UTF-8 with few control characters, else None."""
    if not data or (len(data) - len(data.translate(None, _CONTROL_BYTES))) * 20 > len(data):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_base64(run: str) -> str | None:
    """Decodes base64 (or base64url) runs, and contiguous hex runs (which are
    base64-alphabet runs too)."""
    run = run.replace("\r", "").replace("\n", "").rstrip("=")
    if len(run) >= _MIN_HEX_DIGITS and not run.strip(_HEX_DIGITS):
        text = _decode_hex(run)
        if text is not None:
            return text
    if len(run) < _MIN_BASE64_CHARS:
        return None
    if "-" in run or "_" in run:
        run = run.replace("-", "+").replace("_", "/")
    if len(run) % 4 == 1:
        run = run[:-1]
    try:
        return _as_text(binascii.a2b_base64(run + "=" * (-len(run) % 4)))
    except binascii.Error:  # pragma: no cover - padding is fixed above
        return None


def _decode_hex(run: str) -> str | None:
    digits = _HEX_SEPARATORS_RE.sub("", run)
    if len(digits) < _MIN_HEX_DIGITS:
        return None
    return _as_text(bytes.fromhex(digits[: len(digits) // 2 * 2]))


def _decode_percent(run: str) -> str | None:
    if run.count("%") < _MIN_PERCENT_ESCAPES:
        return None
    return _as_text(urllib.parse.unquote_to_bytes(run.replace("+", " ")))


def _decode_unicode_escapes(run: str) -> str | None:
    return run.encode("ascii").decode("unicode_escape")


# (name, hints: one must occur for the scan to run, run pattern, decoder)
_ENCODINGS: tuple[
    tuple[str, tuple[str, ...], re.Pattern[str], Callable[[str], str | None]], ...
] = (
    ("base64", (), _BASE64_RE, _decode_base64),
    ("hex", (" ", ":"), _SPACED_HEX_RE, _decode_hex),
    ("hex", ("\\x",), _ESCAPED_HEX_RE, _decode_hex),
    ("percent-encoded", ("%",), _PERCENT_RE, _decode_percent),
    ("unicode-escaped", ("\\u",), _UNICODE_ESCAPE_RE, _decode_unicode_escapes),
    ("HTML-entity", ("&#",), _ENTITY_RE, html.unescape),
)


def _encoded_payload(folded: str, depth: int = 0) -> str | None:
    """A summary of the first kind of encoded run whose decoding holds an injection phrase."""
    for name, hints, regex, decode in _ENCODINGS:
        if hints and not any(hint in folded for hint in hints):
            continue
        decoded: list[str] = []
        size = longest = 0
        for found in regex.finditer(folded):
            text = decode(found.group())
            if text is None:
                continue
            decoded.append(text)
            longest = max(longest, len(found.group()))
            size += len(text)
            if size >= MAX_DECODED_CHARS:
                break
        if not decoded:
            continue
        inner = _fold("\n".join(decoded)[:MAX_DECODED_CHARS])
        hits = _phrase_hits(_views(_normalize(inner)), first_only=True)
        for detector, matched in hits.items():
            return f'{name} run ({longest} chars) decodes to {detector} text: "{_quote(matched)}"'
        if depth + 1 < _MAX_DECODE_DEPTH:
            nested = _encoded_payload(inner, depth + 1)
            if nested is not None:
                return f"{name} run ({longest} chars) wraps a {nested}"
    return None


def _rot13_payload(norm: str) -> str | None:
    rotated = norm.encode("ascii", "replace").translate(_ROT13).decode("ascii")
    hits = _phrase_hits([_View(rotated)], first_only=True, words_only=True)
    for detector, matched in hits.items():
        return f'rot13 text decodes to {detector} text: "{_quote(matched)}"'
    return None


# ---------------------------------------------------------------------------
# Summaries


_SECRETISH_RE = re.compile(r"[A-Za-z0-9+/=_\-]*[0-9][A-Za-z0-9+/=_\-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABELS = {
    INSTRUCTION_OVERRIDE: "instruction-override phrase",
    ROLE_HIJACK: "role-hijack phrase or fake chat-role marker",
    SYSTEM_PROMPT_EXFILTRATION: "system-prompt exfiltration request",
}


def _quote(matched: str) -> str:
    """At most `SUMMARY_QUOTE_CHARS` characters of `matched`, with long
    digit-bearing tokens (keys, hashes) masked."""
    text = _INVISIBLE_RE.sub("", _CONTROL_RE.sub(" ", matched[: SUMMARY_QUOTE_CHARS * 4]))
    text = " ".join(text.split()).replace('"', "'")
    text = _SECRETISH_RE.sub(lambda m: "[redacted]" if len(m.group()) >= 16 else m.group(), text)
    if len(text) > SUMMARY_QUOTE_CHARS:
        text = text[: SUMMARY_QUOTE_CHARS - 1] + "\u2026"
    return text


# ---------------------------------------------------------------------------
# Public API


def scan_text(text: str, field_path: str) -> list[Finding]:
    """Findings for one untrusted string: at most one per detector, in
    `DETECTORS` order. Only the first `MAX_SCAN_CHARS` characters are scanned."""
    if not isinstance(text, str) or not text:
        return []
    text = text[:MAX_SCAN_CHARS]
    found: dict[str, str] = {}

    hidden = _hidden_unicode(text)
    if hidden is not None:
        found[HIDDEN_UNICODE] = hidden

    folded = _fold(text)
    norm = _normalize(folded)
    for detector, matched in _phrase_hits(_views(norm)).items():
        found[detector] = f'{_LABELS[detector]}: "{_quote(matched)}"'

    encoded = _encoded_payload(folded) or _rot13_payload(norm)
    if encoded is not None:
        found[ENCODED_PAYLOAD] = encoded

    return [Finding(field_path, d, found[d]) for d in DETECTORS if d in found]


_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


def _child_path(path: str, key: str) -> str:
    """`path.key`, or `path["key"]` (escaped, shortened) for other keys."""
    if _IDENTIFIER_RE.fullmatch(key):
        return f"{path}.{key}" if path else key
    shown = key if len(key) <= 64 else key[:63] + "\u2026"
    escaped = shown.encode("ascii", "backslashreplace").decode("ascii").replace('"', '\\"')
    return f'{path}["{escaped}"]'


def scan_value(value: object, field_path: str) -> list[Finding]:
    """Findings for every string in a JSON-like value, dict keys included
    (their summaries start "in key:"), in document order, with paths like
    `input.a.b[3]`; keys that are not identifiers are quoted: `input["a b"]`.
    Numbers, booleans, None and other types are skipped. Returns at most
    `MAX_FINDINGS_PER_VALUE` findings and visits at most `MAX_VALUE_NODES`
    nodes."""
    findings: list[Finding] = []
    stack: list[tuple[object, str]] = [(value, field_path)]
    visited = 0
    while stack and len(findings) < MAX_FINDINGS_PER_VALUE and visited < MAX_VALUE_NODES:
        item, path = stack.pop()
        visited += 1
        if isinstance(item, str):
            findings.extend(scan_text(item, path))
        elif isinstance(item, dict):
            children: list[tuple[object, str]] = []
            for key, child in item.items():
                child_path = _child_path(path, key if isinstance(key, str) else str(key))
                if isinstance(key, str):
                    visited += 1
                    findings.extend(
                        dataclasses.replace(f, summary="in key: " + f.summary)
                        for f in scan_text(key, child_path)
                    )
                children.append((child, child_path))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend((item[i], f"{path}[{i}]") for i in range(len(item) - 1, -1, -1))
    return findings[:MAX_FINDINGS_PER_VALUE]
