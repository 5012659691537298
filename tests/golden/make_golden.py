"""Regenerate ``hard_cases.jsonl``: hand-made hard texts and the tokens Python gives them.

The file is the contract between the Python tokenizer and the C++ demo on the
texts most likely to break a re-implementation. ``tests/test_cpp_demo.py``
checks that the Python side still gives these tokens (so a change in the
tokenizer or spec shows up as a diff of this file) and that the C++ demo gives
the same tokens, ids and scores. Run after an intended tokenizer change:

    python tests/golden/make_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from sentiment_export import PreprocessingSpec
from sentiment_export.text.tokenizer import Tokenizer

GOLDEN_PATH = Path(__file__).with_name("hard_cases.jsonl")

# (what the case is about, text). Escapes are used for every invisible character.
HARD_CASES: tuple[tuple[str, str], ...] = (
    # quotes
    ("curly double quotes", "He said \u201cgreat\u201d and left."),
    ("curly single quotes", "\u2018fine\u2019 they said, it\u2019s \u2018ok\u2019"),
    ("straight quotes", "\"Quoted\" start and 'single' quotes, it's \"ok\"."),
    ("quote after bracket", "(\"inside\") [''two''] {\"x\"} <\"y\">"),
    ("guillemets and low quotes", "\u00abbonjour\u00bb \u201eja\u201c \u201a"),
    ("double single quotes and backticks", "``like this'' and `single' and ''no'' and ```many"),
    ("quote at the very start", "\"Hello there"),
    ("apostrophe at the start", "'Hello 'there' 're 've 'll 'm 't 's 'd 'n"),
    ("possessive plural", "the students' books and James' car"),
    # contractions
    ("contractions", "I can't, won't, shouldn't, wouldn't've, ain't"),
    ("contractions upper case", "I CAN'T WON'T I'M YOU'RE THEY'VE WE'LL HE'D SHE'S"),
    ("y'all and friends", "y'all gonna love it, gotta see, wanna go, gimme that, lemme know"),
    ("MacIntyre contractions", "Cannot d'ye more'n 'tis 'twas 'Tis 'TWAS CANNOT GONNA"),
    ("wanna at the end", "i wanna"),
    ("odd apostrophes", "rock'n'roll o'clock '90s ma'am 'em"),
    # letters
    ("accents", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve co\u00f6perate, \u00c9T\u00c9 \u00c0 PARIS"),
    ("decomposed accents", "Cafe\u0301 e\u0301te\u0301 A\u0300"),
    ("sharp s", "Stra\u00dfe GROSSE \u1e9e gro\u00df"),
    ("cedilla", "\u00c7A VA \u00e7a"),
    ("dotted capital I", "\u0130STANBUL \u0130stanbul KIRIKKALE"),
    ("dotless i", "\u0131 g\u0131mme g\u0131mme 't\u0131s it's"),
    ("Greek final sigma", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u03a3\u039f\u03a6\u039f\u03a3. \u03a3 A\u03a3 \u03a3A"),
    ("Greek sigma with ignorables", "\u0391\u0301\u03a3 \u0391\u03a3\u0301\u0392 \u0391\u00ad\u03a3 \u0391'\u03a3 \u0391.\u03a3"),
    ("sigma after a Unicode 15 letter", "\U0001df25\u03a3 \u0391\U0001e030\u03a3 \u0391\u03a3\U0001e030"),
    ("Greek accents", "\u1f08\u03b8\u03ae\u03bd\u03b1 \u1fbc \u0390"),
    ("Cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u041c\u0418\u0420! \u0401\u041b\u041a\u0410 \u0456\u0457"),
    ("Japanese", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\u7d20\u6674\u3089\u3057\u3044\uff01"),
    ("Chinese", "\u4e2d\u6587\uff0c\u6807\u70b9\u3002\u597d\u300a\u4e66\u300b"),
    ("Korean", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8"),
    ("Arabic and Hebrew", "\u0646\u0635 \u0639\u0631\u0628\u064a \u05e2\u05d1\u05e8\u05d9\u05ea"),
    ("Devanagari", "\u0939\u093f\u0928\u094d\u0926\u0940 \u0915\u093f\u0924\u093e\u092c"),
    ("ligatures and titlecase", "\ufb01ne \ufb02ow \u01c4 \u01c5 \u01c6 \u01f1"),
    ("long s, Kelvin, Angstrom", "\u017f 'tis \u212a \u212b \u2126"),
    ("math alphanumerics", "\U0001d400\U0001d401\U0001d402 \U0001d7d8\U0001d7d9"),
    ("underscores and modifier letters", "_under_score_ x\u00b2 \u02b0 \u1d2c"),
    # emoji and symbols
    ("emoji", "Great \U0001f44d\U0001f44d product \U0001f600!"),
    ("emoji with variation selector", "\u2764\ufe0f love \u263a"),
    ("emoji ZWJ sequence and flag", "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1fa\U0001f1f8"),
    ("punctuation marks", "#hashtag @user 100% & more; *stars* ~tilde^ |pipe| \\back"),
    ("brackets", "(parens) [brackets] {braces} <angle>"),
    ("currency", "$19.99 \u20ac5 \u00a310 \u00a5100"),
    # HTML
    ("HTML line breaks", "Great movie.<br /><br />Loved it<br/>really"),
    ("HTML tags and entities", "<b>bold</b> &amp; &quot;quoted&quot; &#39;"),
    # URLs
    ("URL with scheme", "see http://example.com/page?x=1&y=2."),
    ("https URL in parentheses", "(https://a.b.co.uk/x_(y)) and more"),
    ("www URL", "visit www.example.org, now"),
    ("bare host with path", "example.com/path/to?q=1 is bare"),
    ("ftp URL", "ftp://files.example.net/a.txt!"),
    ("host at the end of a sentence", "go to amazon.com."),
    ("host with possessive", "amazon.com's store"),
    ("not URLs", "e.g. foo.bar game.the end.The next file.txt Mr. Smith"),
    ("upper-case URL", "HTTP://WWW.EXAMPLE.COM/Path"),
    ("IDN URL", "http://\u4f8b\u5b50.\u6d4b\u8bd5/\u8def\u5f84 ok"),
    ("two URLs", "http://a.com http://b.org/x,www.c.net"),
    ("URL after punctuation", "(www.a.com) \"http://b.com\" /c.com"),
    # e-mail
    ("e-mail address", "mail me at john.doe@example.com today"),
    ("short e-mail", "x@y.org!"),
    # numbers
    ("digits and decimals", "I paid $19.99 for 2 items, 10,000 people, 3.14159, 1st 2nd"),
    ("time and date", "at 10:30 on 12/31/2024, 1:2"),
    ("Arabic-Indic digits", "\u0663\u0664\u0665 \u06f1\u06f2"),
    ("Devanagari digits", "\u0967\u0968\u0969"),
    ("fullwidth digits", "\uff10\uff11\uff12"),
    ("numeric but not decimal", "\u2460 \u00bd \u00b2 \u2167 \u3007"),
    # punctuation runs
    ("ellipsis", "wait... what.... no..."),
    ("unicode ellipsis", "wait\u2026 what"),
    ("double dashes", "a--b -- c---d"),
    ("em and en dashes", "em\u2014dash en\u2013dash fig\u2012dash bar\u2015 minus\u2212"),
    ("question and exclamation", "Really?!? Yes!!! ???"),
    ("colons and commas", "a:b a: b,c a , 1,000 x:"),
    ("final period with quotes", "He said.' She said.\" Done.)]}>"),
    ("period before a final newline", "the end.\n"),
    ("abbreviations", "U.S.A. a.m. etc.. i.e."),
    # whitespace
    ("tab", "tab\there"),
    ("no-break space", "nbsp\u00a0here \u00a0"),
    ("thin and ideographic spaces", "thin\u2009space ideo\u3000space en\u2002space"),
    ("zero-width space", "zero\u200bwidth joiner\u200dx"),
    ("line and paragraph separators", "line\u2028sep para\u2029sep"),
    ("information separators", "a\x1cb\x1dc\x1ed\x1fe"),
    ("Mongolian vowel separator", "mongolian\u180evowel"),
    ("CRLF and CR", "first\r\nsecond\rthird"),
    ("newlines", "new\nline\n\nparagraph"),
    ("vertical tab and form feed", "v\x0btab f\x0cfeed"),
    ("next line", "next\x85line"),
    ("NUL character", "nul\x00char"),
    ("space before final punctuation", "end .  \n"),
    ("empty", ""),
    ("spaces only", "   "),
    ("whitespace only", "\t\n \u00a0\u3000\u2028"),
    # length
    ("longer than max_length", " ".join(f"word{index % 7}" for index in range(260)) + " end."),
    ("long run of one character", "a" * 5000),
    ("long punctuation run", "!" * 300),
    # the character budget (max_characters, 10,000 by default): cut inside a word, and the
    # texts whose one URL-step match ran out of PCRE2's default JIT stack
    ("longer than the character budget", "good " * 1999 + "greatness and more"),
    ("dot-joined words past the budget", "review." * 1500),
    ("dot-joined letters past the budget", "a." * 5100),
    ("dot-joined digits past the budget", "0." * 5100),
    ("no whitespace past the budget", "x" * 12_000),
    ("punctuation and spaces past the budget", "! " * 6000),
)


def golden_records() -> list[dict[str, object]]:
    """Each hard case with the tokens the current Python tokenizer gives it (default spec)."""
    tokenizer = Tokenizer(PreprocessingSpec())
    return [{"case": case, "text": text, "tokens": tokenizer.tokenize(text)} for case, text in HARD_CASES]


def main() -> None:
    lines = [json.dumps(record, ensure_ascii=True) for record in golden_records()]
    GOLDEN_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} hard cases to {GOLDEN_PATH}")


if __name__ == "__main__":
    main()
