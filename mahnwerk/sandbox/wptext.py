"""WordPress's text filters as the WooCommerce "Customer note" mail applies them to the note.

templates/emails/customer-note.php prints wpautop(wptexturize(make_clickable($customer_note))); these are ports of
the WordPress 6.8 functions, narrowed to what an order note can hold:

- make_clickable: scheme://… URLs (allowed protocols only, rel="nofollow" on http/https), www./ftp. hosts and
  e-mail addresses outside HTML tags; not inside <code>, <pre>, <script>, <style>.
- wptexturize: the static replacements (… “ ” ™, 'tis …), apostrophes, single and double quotes with the prime
  logic of wptexturize_primes(), dashes, 9x9 → 9×9, bare & → entity; HTML tags and <pre>, <code>, <kbd>, <style>,
  <script>, <tt> contents stay as they are.
- wpautop: <p> per blank-line-separated block, <br /> per single newline, WordPress's block-element clean-ups.

Left out: shortcodes, wpautop's <pre>/<option>/<object>/<audio>/<video>/<figcaption> special cases, the 10,000-byte
chunking of make_clickable, internal links without rel="nofollow" (every link with a host counts as external),
esc_url() beyond escaping & and ' (no %5B for brackets), and the entity whitelist of wp_kses_normalize_entities().
PCRE without /u works on bytes, so "any byte from 0x80" becomes "any non-ASCII character".

as_mailed() adds what the mail's CSS inliner (Emogrifier: a DOMDocument parse and re-serialization) does to that
HTML, which is what the customer gets: numeric entities become characters (&#8217; → ’), &#038; becomes &amp;,
<br /> becomes <br>.
"""

from __future__ import annotations

import re

_A = re.ASCII   # PHP's \d, \w, \s and \b without /u are ASCII-only
# wp_spaces_regexp(): '[\r\n\t ]|\xC2\xA0|&nbsp;'. Python look-behinds need fixed widths, hence the split forms.
_SP = r"(?:[\r\n\t \xa0]|&nbsp;)"
_AFTER_SP = r"(?<=[\r\n\t \xa0])|(?<=&nbsp;)"
_NOT_AFTER_SP = r"(?<![\r\n\t \xa0])(?<!&nbsp;)"
_END = r"\n?\Z"             # PHP's \Z also matches before a final newline
_HI = "\u0080-\U0010ffff"   # PCRE's \x80-\xff on UTF-8 bytes: every non-ASCII character
_PHP_WS = " \t\n\r\0\x0b"   # what PHP's trim() strips (str.strip() would take \xa0 too)

# -- make_clickable -------------------------------------------------------------------------------------------------

_PROTOCOLS = {"http", "https", "ftp", "ftps", "mailto", "news", "irc", "irc6", "ircs", "gopher", "nntp", "feed",
              "telnet", "mms", "rtsp", "sms", "svn", "tel", "fax", "xmpp", "webcal", "urn"}   # wp_allowed_protocols()
_URL_CHAR = rf"[\w{_HI}#%~/@\[\]*(+=&$-]"
_URL = re.compile(rf"""
    ([\s(<.,;:!?])                                  # 1: leading whitespace or punctuation
    (\w{{1,20}}+://(?=\S{{1,2000}}\s)               # 2: the URL
     {_URL_CHAR}*+(?:['.,;:!?)]{_URL_CHAR}++)*)     #    punctuation only when more URL follows
    (\)?)                                           # 3: a trailing ')' for the parenthesis balancing below
    (\.\w{{2,6}})?                                  # 4: a file extension
""", re.VERBOSE | _A)
_WWW = re.compile(rf"([\s>])((www|ftp)\.[\w{_HI}#$%&~/.\-;:=,?@\[\]+]+)", re.IGNORECASE | re.DOTALL | _A)
_EMAIL = re.compile(r"([\s>])([.0-9a-z_+-]+)@(([0-9a-z-]+\.)+[0-9a-z]{2,})", re.IGNORECASE | _A)
_LINK_IN_LINK = re.compile(r"(<a([ \r\n\t]+[^>]+?>|>))<a [^>]+?>([^>]+?)</a></a>", re.IGNORECASE)
_CODE_OPEN = re.compile(r"^<(code|pre|script|style)[\s>]", re.IGNORECASE)


def _esc_url(url: str) -> str:
    """The part of esc_url() a matched URL needs: & and ' as entities, unknown protocols refused ('')."""
    if url.split(":", 1)[0].lower() not in _PROTOCOLS:
        return ""
    url = re.sub(r"&amp;|&(?!#\d+;|#x[0-9a-f]+;|[a-z][a-z0-9]*;)", "&#038;", url, flags=re.IGNORECASE)
    return url.replace("'", "&#039;")


def _rel(url: str) -> str:
    """_make_clickable_rel_attr(): nofollow on http(s) links; a URL without host has no scheme to parse_url()."""
    return ' rel="nofollow"' if re.match(r"https?://[^/?#]", url, re.IGNORECASE) else ""


def _url_link(m: re.Match) -> str:
    url, suffix = m.group(2), m.group(3)
    if suffix == ")" and url.find("(") > 0:
        url, suffix = url + suffix, ""
    url += m.group(4) or ""
    while url.count("(") < url.count(")"):          # keep parentheses in the URL only when paired
        cut = url.rfind(")")
        url, suffix = url[:cut], url[cut:] + suffix
    url = _esc_url(url)
    return f'{m.group(1)}<a href="{url}"{_rel(url)}>{url}</a>{suffix}' if url else m.group(0)


def _www_link(m: re.Match) -> str:
    dest, tail = "http://" + m.group(2), ""
    if dest[-1] in ".,;:)":
        dest, tail = dest[:-1], dest[-1]
    dest = _esc_url(dest)
    return f'{m.group(1)}<a href="{dest}"{_rel(dest)}>{dest}</a>{tail}' if dest else m.group(0)


def _email_link(m: re.Match) -> str:
    email = f"{m.group(2)}@{m.group(3)}"
    return f'{m.group(1)}<a href="mailto:{email}">{email}</a>'


def make_clickable(text: str) -> str:
    """URLs, www. hosts and e-mail addresses outside tags become links."""
    out, nested = [], 0
    for piece in re.split(r"(<[^<>]+>)", text):
        if _CODE_OPEN.match(piece):
            nested += 1
        elif nested and piece.lower() in ("</code>", "</pre>", "</script>", "</style>"):
            nested -= 1
        if nested or not piece or (piece[0] == "<" and not re.match(r"<\s*\w{1,20}+://", piece, _A)):
            out.append(piece)
            continue
        padded = _URL.sub(_url_link, f" {piece} ")      # padding lets every pattern see a leading space
        padded = _EMAIL.sub(_email_link, _WWW.sub(_www_link, padded))
        out.append(padded[1:-1])
    return _LINK_IN_LINK.sub(r"\1\3</a>", "".join(out))


# -- wptexturize ----------------------------------------------------------------------------------------------------

_OQ, _OSQ, _APOS = "<!--oq-->", "<!--osq-->", "<!--apos-->"     # wptexturize's placeholders
_STATIC = [("...", "&#8230;"), ("``", "&#8220;"), ("''", "&#8221;"), (" (tm)", " &#8482;")] + [
    (f"'{word}", f"&#8217;{word}".replace("'", "&#8217;"))
    for word in ("tain't", "twere", "twas", "tis", "twill", "til", "bout", "nuff", "round", "cause", "em")]
_APOS_RULES = [(re.compile(p, _A), r) for p, r in [
    (rf"'(\d\d)'(?={_END}|[.,:;!?)}}\-\]]|&gt;|{_SP})", _APOS + r"\1&#8217;"),      # '99' at a quotation's end
    (rf"'(\d\d)\"(?={_END}|[.,:;!?)}}\-\]]|&gt;|{_SP})", _APOS + r"\1&#8221;"),
    (rf"'(?=\d\d(?:{_END}|(?![%\d]|[.,]\d)))", _APOS),                             # '99 but not '99% or '99.0
    (rf"(?:\A|{_AFTER_SP})'(\d[.,\d]*)'", _OSQ + r"\1&#8217;"),                     # quoted numbers like '0.42'
    (rf"(?:\A|(?<=[(\[{{\"\-])|(?<=&lt;)|{_AFTER_SP})'", _OSQ),                      # opening single quote
    (rf"{_NOT_AFTER_SP}'(?!{_END}|[.,:;!?\"'(){{}}\[\]\-]|&[lg]t;|{_SP})", _APOS),   # apostrophe inside a word
]]
_QUOTE_RULES = [(re.compile(p, _A), r) for p, r in [
    (rf"(?:\A|{_AFTER_SP})\"(\d[.,\d]*)\"", _OQ + r"\1&#8221;"),                     # quoted numbers like "42"
    (rf"(?:\A|(?<=[(\[{{\-])|(?<=&lt;)|{_AFTER_SP})\"(?!{_SP})", _OQ),               # opening double quote
]]
_DASH_RULES = [(re.compile(p, _A), r) for p, r in [
    (r"---", "&#8212;"),
    (rf"(?:^|{_AFTER_SP})--(?=$|{_SP})", "&#8212;"),
    (r"(?<!xn)--", "&#8211;"),                                                       # not in punycode xn--
    (rf"(?:^|{_AFTER_SP})-(?=$|{_SP})", "&#8211;"),
]]
_TIMES = re.compile(r"\b(0[\d.,]+|[1-9][\d.,]*)x(\d[\d.,]*)\b", _A)              # 9x9, never 0x9999
_BARE_AMP = re.compile(r"&(?!#(?:\d+|x[a-f0-9]+);|[a-z1-4]{1,8};)", re.IGNORECASE)
_COMMENT = r"!(?:-(?!->)[^\-]*+)*+(?:-->)?"
_TEXTURIZE_SPLIT = re.compile(rf"(<(?:(?=!--){_COMMENT}|(?!!--)[^>]*>?))")
_NO_TEXTURIZE = ("pre", "code", "kbd", "style", "script", "tt")


def _primes(text: str, needle: str, prime: str, open_flag: str, close: str) -> str:
    """wptexturize_primes(): decide per quoted sentence whether a quote after a digit closes it or is a prime."""
    flag = "<!--wp-prime-or-quote-->"
    closing = re.compile(rf"{needle}(?={_END}|[.,:;!?)}}\-\]]|&gt;|{_SP})", _A)
    after_digit = re.compile(rf"(?<=\d){needle}", _A)
    sentences = text.split(open_flag)
    for key, sentence in enumerate(sentences):
        if needle not in sentence:
            continue
        if key != 0 and close not in sentence:
            sentence, count = closing.subn(flag, sentence)
            if count > 1:                               # several candidates: "Vulcan logic"
                sentence, count2 = re.subn(rf"(?<!\d){flag}", close, sentence, flags=_A)
                if count2 == 0:
                    pos = sentence.rfind(flag + ".")
                    pos = pos if pos >= 0 else sentence.rfind(flag)
                    sentence = sentence[:pos] + close + sentence[pos + len(flag):]
                sentence = after_digit.sub(prime, sentence)
                sentence = re.sub(rf"(?<=\d){flag}", prime, sentence, flags=_A).replace(flag, close)
            elif count == 1:
                sentence = after_digit.sub(prime, sentence.replace(flag, close))
            else:
                sentence = after_digit.sub(prime, sentence)
        else:
            sentence = closing.sub(close, after_digit.sub(prime, sentence))
        if needle == '"':
            sentence = sentence.replace('"', close)
        sentences[key] = sentence
    return open_flag.join(sentences)


def _texturize_text(text: str) -> str:
    for plain, fancy in _STATIC:
        text = text.replace(plain, fancy)
    if "'" in text:
        for rule, repl in _APOS_RULES:
            text = rule.sub(repl, text)
        text = _primes(text, "'", "&#8242;", _OSQ, "&#8217;").replace(_APOS, "&#8217;").replace(_OSQ, "&#8216;")
    if '"' in text:
        for rule, repl in _QUOTE_RULES:
            text = rule.sub(repl, text)
        text = _primes(text, '"', "&#8243;", _OQ, "&#8221;").replace(_OQ, "&#8220;")
    if "-" in text:
        for rule, repl in _DASH_RULES:
            text = rule.sub(repl, text)
    if re.search(r"(?<=\d)x\d", text, _A):
        text = _TIMES.sub(r"\1&#215;\2", text)
    return _BARE_AMP.sub("&#038;", text)


def _tag_name(tag: str) -> str:
    """_wptexturize_pushpop_element()'s tag name: after '<' or '</', up to the first space."""
    start = 2 if tag[1:2] == "/" else 1
    space = tag.find(" ")
    return tag[start:space] if space >= 0 else tag[start:-1]


def wptexturize(text: str) -> str:
    """Curly quotes, apostrophes, primes, dashes, ellipses and escaped ampersands, outside tags (as entities)."""
    if not text:
        return text
    stack: list[str] = []
    parts = [p for p in _TEXTURIZE_SPLIT.split(text) if p]
    for n, part in enumerate(parts):
        if part[0] == "<":
            if part.startswith("<!--"):
                continue
            parts[n] = _BARE_AMP.sub("&#038;", part)
            name = _tag_name(part)
            if part[1:2] != "/" and name in _NO_TEXTURIZE:
                stack.append(name)
            elif part[1:2] == "/" and stack and stack[-1] == name:
                stack.pop()
        elif part.strip(_PHP_WS) and not stack:
            parts[n] = _texturize_text(part)
    return "".join(parts)


# -- wpautop --------------------------------------------------------------------------------------------------------

_BLOCKS = (r"(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|"
           r"blockquote|address|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|footer|nav|"
           r"figure|figcaption|details|menu|summary)")
_CDATA = r"!\[CDATA\[[^\]]*+(?:\](?!\]>)[^\]]*+)*+(?:\]\]>)?"
_HTML_SPLIT = re.compile(rf"(<(?:(?=!--){_COMMENT}|(?=!\[CDATA\[){_CDATA}|(?!!--|!\[CDATA\[)[^>]*>?))")
_AUTOP_STEPS = [(re.compile(p, f | _A), r) for p, r, f in [
    (r"<p>\s*</p>", "", 0),                                             # a paragraph of only whitespace
    (r"<p>([^<]+)</(div|address|form)>", r"<p>\1</p></\2>", 0),
    (rf"<p>\s*(</?{_BLOCKS}[^>]*>)\s*</p>", r"\1", 0),                  # a block tag alone in a paragraph
    (r"<p>(<li.+?)</p>", r"\1", 0),
    (r"<p><blockquote([^>]*)>", r"<blockquote\1><p>", re.IGNORECASE),
    (r"</blockquote></p>", "</p></blockquote>", 0),
    (rf"<p>\s*(</?{_BLOCKS}[^>]*>)", r"\1", 0),
    (rf"(</?{_BLOCKS}[^>]*>)\s*</p>", r"\1", 0),
]]


def wpautop(text: str) -> str:
    """Paragraphs for blank-line-separated blocks, <br /> for the remaining newlines."""
    if not text.strip(_PHP_WS):
        return ""
    text = _sub(r"<br\s*/?>\s*<br\s*/?>", "\n\n", text + "\n")
    text = _sub(rf"(<{_BLOCKS}[\s/>])", "\n\n\\1", text)
    text = _sub(rf"(</{_BLOCKS}>)", "\\1\n\n", text)
    text = _sub(r"(<hr\s*?/?>)", "\\1\n\n", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = _HTML_SPLIT.split(text)                     # newlines inside tags must not make paragraphs
    text = "".join(p.replace("\n", " <!-- wpnl --> ") if n % 2 else p for n, p in enumerate(parts))
    text = _sub(r"\n\n+", "\n\n", text)
    blocks = re.split(r"\n\s*\n", text, flags=_A)
    text = "".join(f"<p>{block.strip(chr(10))}</p>\n" for block in blocks if block)
    for rule, repl in _AUTOP_STEPS:
        text = rule.sub(repl, text)
    text = re.sub(r"<(script|style|svg|math).*?</\1>", lambda m: m.group(0).replace("\n", "<WPPreserveNewline />"),
                  text, flags=re.DOTALL)
    text = text.replace("<br>", "<br />").replace("<br/>", "<br />")
    text = _sub(r"(?<!<br />)\s*\n", "<br />\n", text)
    text = text.replace("<WPPreserveNewline />", "\n")
    text = _sub(rf"(</?{_BLOCKS}[^>]*>)\s*<br />", r"\1", text)
    text = _sub(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^>]*>)", r"\1", text)
    text = _sub(r"\n</p>$", "</p>", text)
    return text.replace(" <!-- wpnl --> ", "\n").replace("<!-- wpnl -->", "\n")


def _sub(pattern: str, repl: str, text: str) -> str:
    return re.sub(pattern, repl, text, flags=_A)


# -- the mail -------------------------------------------------------------------------------------------------------

_KEPT_ENTITIES = {38: "&amp;", 60: "&lt;", 62: "&gt;"}     # a DOM serializer must keep these escaped


def _entity(m: re.Match) -> str:
    code = int(m.group(1)[1:], 16) if m.group(1)[0] in "xX" else int(m.group(1))
    if code in _KEPT_ENTITIES:
        return _KEPT_ENTITIES[code]
    return chr(code) if 0 < code < 0x110000 else m.group(0)


def as_mailed(html: str) -> str:
    """The HTML after the mail's DOM round trip: characters for numeric entities, &amp; for &#038;, <br>."""
    return re.sub(r"&#(\d+|[xX][0-9a-fA-F]+);", _entity, html).replace("<br />", "<br>")


def note_html(note: str) -> str:
    """The note as the Customer note mail shows it inside its <blockquote>."""
    return as_mailed(wpautop(wptexturize(make_clickable(note))))
